import { type ValidationError, validate } from 'class-validator';
import { CommandValidationError, type PropertyFailure } from '../errors';

/**
 * Validates a command's input with class-validator: unknown properties are refused, nested objects
 * are checked, every failure is reported.
 * @throws CommandValidationError
 */
export async function validateCommand(command: object, commandName: string): Promise<void> {
  const errors = await validate(command, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false },
  });
  if (errors.length > 0) throw new CommandValidationError(commandName, flatten(errors, ''));
}

function flatten(errors: readonly ValidationError[], prefix: string): PropertyFailure[] {
  return errors.flatMap((error) => {
    const property = prefix === '' ? error.property : `${prefix}.${error.property}`;
    const own: PropertyFailure[] = error.constraints
      ? [{ property, value: error.value, constraints: error.constraints }]
      : [];
    return [...own, ...flatten(error.children ?? [], property)];
  });
}
