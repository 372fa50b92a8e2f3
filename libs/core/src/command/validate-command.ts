import {
  getMetadataStorage,
  type MetadataStorage,
  type ValidationError,
  type ValidationArguments,
  ValidationTypes,
  validate,
} from 'class-validator';
import { CommandValidationError, ErrorMessages, type PropertyFailure } from '../errors';
import { findUnstorableText, type UnstorableText } from '../util/unstorable-text';

/**
 * Validates a command's input with class-validator: unknown properties are refused, nested objects
 * are checked, every failure is reported. A string no store can hold (a NUL character or an
 * unpaired surrogate, as a value or a key) is a failure of its property too, so that such input is
 * refused as the caller's mistake before anything is read. Returns `undefined` when the input is
 * known valid without waiting (see {@link quickCheckOf}), else a promise of the full validation.
 * @throws CommandValidationError (as the promise's rejection)
 */
export function validateCommand(command: object, commandName: string): Promise<void> | undefined {
  const text = findUnstorableText(command);
  if (text === undefined && quickCheckOf(command.constructor)?.(command) === true) return undefined;
  return fullValidation(command, commandName, text);
}

async function fullValidation(
  command: object,
  commandName: string,
  text: UnstorableText | undefined,
): Promise<void> {
  const errors = await validate(command, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false },
  });
  const failures = flatten(errors, '');
  if (text !== undefined) failures.push(textFailure(command, text));
  if (failures.length > 0) throw new CommandValidationError(commandName, failures);
}

function textFailure(command: object, text: UnstorableText): PropertyFailure {
  const subject = text.inKey ? `the key ${text.path}` : text.path;
  // The top-level property's value: enough to find the input, without walking the path again.
  const top = /^[^.[]*/.exec(text.path)![0];
  return {
    property: text.path,
    value: (command as Record<string, unknown>)[top],
    constraints: { storableText: `${subject} ${ErrorMessages.storableText(text.reason)}` },
  };
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

type ValidationMetadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number];
type Validator = ReturnType<MetadataStorage['getTargetValidatorConstraints']>[number]['instance'];

/** The checks of one property, as class-validator runs them. */
interface PropertyChecks {
  readonly property: string;
  /** `@ValidateIf`/`@IsOptional` conditions: when one is falsy, the property is not checked. */
  readonly conditions: readonly ((object: object, value: unknown) => unknown)[];
  readonly rules: readonly { metadata: ValidationMetadata; validator: Validator }[];
}

/** True when class-validator would report nothing; false when it must be asked. */
type QuickCheck = (command: object) => boolean;

const quickChecks = new WeakMap<object, QuickCheck | null>();

/**
 * class-validator's `validate` costs several microseconds per call, mostly in looking up and
 * grouping the class's metadata again and in building error objects for valid properties. For a
 * command class whose rules are all synchronous property constraints (with or without conditions),
 * this check runs the same constraint functions on the same values directly; only when one of them
 * does not answer `true`, or the object has a property without rules, does the executor run
 * class-validator for its full report. Classes with nested, promise or `each` validation always
 * go to class-validator (`null`); an object of a class with no rules at all is valid only when it
 * has no properties.
 *
 * The metadata is read once per class, at its first validation: decorators register it when the
 * class is defined.
 */
function quickCheckOf(ctor: unknown): QuickCheck | undefined {
  if (typeof ctor !== 'function') return undefined;
  let check = quickChecks.get(ctor);
  if (check === undefined) {
    check = compileQuickCheck(ctor as Constructor);
    quickChecks.set(ctor, check);
  }
  return check ?? undefined;
}

type Constructor = abstract new (...args: never[]) => unknown;

function compileQuickCheck(ctor: Constructor): QuickCheck | null {
  const storage = getMetadataStorage();
  // The same selection class-validator makes for `validate(object, options)`: no schema, no groups.
  const metadatas = storage.getTargetValidationMetadatas(
    ctor,
    undefined as unknown as string,
    false,
    false,
  );
  // A command with a boundary query may have no input at all (class-validator's
  // forbidUnknownValues would refuse it for having no rules); with properties but no rules, the
  // whitelist refuses them, so class-validator reports those.
  if (metadatas.length === 0) return (command) => Object.keys(command).length === 0;
  const byProperty = new Map<string, PropertyChecks>();
  for (const metadata of metadatas) {
    const name = metadata.propertyName;
    // class-validator groups by name in a plain object, where inherited names behave oddly.
    if (name in Object.prototype) return null;
    let checks = byProperty.get(name);
    if (checks === undefined) {
      checks = { property: name, conditions: [], rules: [] };
      byProperty.set(name, checks);
    }
    switch (metadata.type) {
      case ValidationTypes.WHITELIST:
        break;
      case ValidationTypes.CONDITIONAL_VALIDATION:
        (checks.conditions as unknown[]).push(metadata.constraints[0]);
        break;
      case ValidationTypes.IS_DEFINED:
      case ValidationTypes.CUSTOM_VALIDATION:
        if (metadata.each) return null;
        for (const constraint of storage.getTargetValidatorConstraints(metadata.constraintCls)) {
          if (constraint.async) return null;
          (checks.rules as unknown[]).push({ metadata, validator: constraint.instance });
        }
        break;
      default:
        return null; // nested and promise validation
    }
  }
  const properties = [...byProperty.values()];
  const targetName = ctor.name;
  return (command) => {
    for (const key of Object.keys(command)) if (!byProperty.has(key)) return false;
    for (const { property, conditions, rules } of properties) {
      const value = (command as Record<string, unknown>)[property];
      if (!conditions.every((condition) => condition(command, value))) continue;
      for (const { metadata, validator } of rules) {
        if (metadata.validateIf !== undefined && !metadata.validateIf(command, value)) continue;
        const args: ValidationArguments = {
          targetName,
          property,
          object: command,
          value,
          constraints: metadata.constraints,
        };
        if (validator.validate(value, args) !== true) return false;
      }
    }
    return true;
  };
}
