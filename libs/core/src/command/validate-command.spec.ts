import 'reflect-metadata';
import {
  Allow,
  IsInt,
  IsOptional,
  IsPositive,
  IsString,
  registerDecorator,
  type ValidationArguments,
  ValidateIf,
  ValidateNested,
  validate,
} from 'class-validator';
import fc from 'fast-check';
import { CommandValidationError } from '../errors';
import type { StreamId } from '../store/stream-id';
import { Stream } from './command.decorators';
import { validateCommand } from './validate-command';

/** A synchronous custom rule that answers truthy values other than `true`, and reads its arguments. */
function MatchesProperty(other: string): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'matchesProperty',
      target: target.constructor,
      propertyName: property as string,
      constraints: [other],
      validator: {
        validate: (value: unknown, args?: ValidationArguments) =>
          value === undefined
            ? (1 as unknown as boolean)
            : value === (args!.object as Record<string, unknown>)[args!.constraints[0] as string],
      },
    });
}

class Deposit {
  @Stream() account!: StreamId;
  @IsInt() @IsPositive() amount!: number;
  @IsOptional() @IsString() reference?: string;
}

class Transfer extends Deposit {
  @Stream() to!: StreamId;
  @ValidateIf((o: Transfer) => o.amount > 100) @IsString() approvedBy?: string;
  @MatchesProperty('account') echo?: string;
  @Allow() note?: unknown;
}

class Line {
  @IsInt() quantity!: number;
}

class Order {
  @Stream() order!: StreamId;
  @ValidateNested() line!: Line;
}

class Slow {
  @Stream() account!: StreamId;
}
registerDecorator({
  name: 'slowCheck',
  target: Slow,
  propertyName: 'account',
  async: true,
  validator: { validate: async (value: unknown) => value !== 'refused' },
});

const OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false },
};

/** What validateCommand makes of `command`: `valid`, or the failures it reports. */
async function verdict(command: object): Promise<unknown> {
  try {
    await validateCommand(command, 'Test');
    return 'valid';
  } catch (error) {
    if (!(error instanceof CommandValidationError)) throw error;
    return error.failures.map((f) => [f.property, Object.keys(f.constraints).sort()]);
  }
}

/** What class-validator itself makes of `command`, in the same shape. */
async function reference(command: object): Promise<unknown> {
  const errors = await validate(command, OPTIONS);
  if (errors.length === 0) return 'valid';
  const failures: unknown[] = [];
  const walk = (list: typeof errors, prefix: string) => {
    for (const error of list) {
      const property = prefix === '' ? error.property : `${prefix}.${error.property}`;
      if (error.constraints) failures.push([property, Object.keys(error.constraints).sort()]);
      walk(error.children ?? [], property);
    }
  };
  walk(errors, '');
  return failures;
}

const value = fc.oneof(
  fc.constantFrom('acc-1', 'acc-2', 'acc*1', ' acc-1', '', 'refused', 'boss'),
  fc.integer({ min: -5, max: 500 }),
  fc.double({ noNaN: false }),
  fc.constantFrom(undefined, null, true, [], ['acc-1'], {}),
);

function build<T extends object>(ctor: new () => T, fields: Record<string, unknown>): T {
  const command = new ctor();
  for (const [key, field] of Object.entries(fields)) {
    if (field !== undefined) (command as Record<string, unknown>)[key] = field;
  }
  return command;
}

describe('validateCommand', () => {
  it.each<[string, new () => object, string[]]>([
    ['plain constraints', Deposit, ['account', 'amount', 'reference', 'extra']],
    [
      'inherited rules, conditions, custom rules and @Allow',
      Transfer,
      ['account', 'amount', 'reference', 'to', 'approvedBy', 'echo', 'note', 'extra'],
    ],
    ['nested validation', Order, ['order', 'line', 'extra']],
    ['an async rule', Slow, ['account', 'extra']],
  ])(
    'reports exactly what class-validator reports, for any input (%s)',
    async (_label, ctor, fields) => {
      await fc.assert(
        fc.asyncProperty(
          fc.record(
            Object.fromEntries(
              fields.map((f) => [
                f,
                f === 'line'
                  ? fc.oneof(
                      value,
                      value.map((quantity) => Object.assign(new Line(), { quantity })),
                    )
                  : value,
              ]),
            ),
            { requiredKeys: [] },
          ),
          async (fields) => {
            const command = build(ctor, fields);
            expect(await verdict(command)).toEqual(await reference(command));
          },
        ),
        { numRuns: 300 },
      );
    },
  );

  it('answers at once for valid input of a class with synchronous rules, and waits otherwise', async () => {
    const valid = build(Transfer, { account: 'acc-1', to: 'acc-2', amount: 500 });
    Object.assign(valid, { approvedBy: 'boss', echo: 'acc-1' });
    expect(validateCommand(valid, 'Transfer')).toBeUndefined();
    const invalid = build(Transfer, { account: 'acc-1', to: 'acc-2', amount: 500 });
    await expect(validateCommand(invalid, 'Transfer')).rejects.toBeInstanceOf(
      CommandValidationError,
    );
    const order = build(Order, { order: 'o-1', line: Object.assign(new Line(), { quantity: 1 }) });
    await expect(validateCommand(order, 'Order')).resolves.toBeUndefined();
    await expect(validateCommand(build(Slow, { account: 'refused' }), 'Slow')).rejects.toThrow(
      CommandValidationError,
    );
  });
});

describe('validateCommand: text no store can hold', () => {
  const failuresOf = async (command: object) => {
    try {
      await validateCommand(command, 'Test');
      return 'valid';
    } catch (error) {
      if (!(error instanceof CommandValidationError)) throw error;
      return error.failures.map((f) => ({ property: f.property, constraints: f.constraints }));
    }
  };

  it.each<[string, () => object, string, string]>([
    [
      'a NUL character in a validated string',
      () => build(Deposit, { account: 'acc-1', amount: 5, reference: 'ref\u0000' }),
      'reference',
      'reference must not contain a NUL character',
    ],
    [
      'a lone surrogate in an @Allow()ed free-form value',
      () => build(Transfer, { account: 'acc-1', to: 'acc-2', amount: 5, note: { a: ['\ud800'] } }),
      'note.a.0',
      'note.a.0 must not contain an unpaired UTF-16 surrogate',
    ],
    [
      'a NUL character in a key',
      () => build(Transfer, { account: 'acc-1', to: 'acc-2', amount: 5, note: { 'k\u0000': 1 } }),
      'note["k\\u0000"]',
      'the key note["k\\u0000"] must not contain a NUL character',
    ],
  ])('refuses %s, naming the property', async (_label, make, property, message) => {
    const failures = await failuresOf(make());
    expect(failures).toEqual([
      { property, constraints: { storableText: expect.stringContaining(message) } },
    ]);
  });

  it('lists it with the other failures, and accepts paired surrogates', async () => {
    const command = build(Deposit, { account: 'acc-1', amount: -1, reference: '\udc00' });
    expect((await failuresOf(command)) as unknown[]).toEqual([
      { property: 'amount', constraints: { isPositive: expect.any(String) } },
      { property: 'reference', constraints: { storableText: expect.any(String) } },
    ]);
    const emoji = build(Deposit, { account: 'acc-1', amount: 1, reference: '🚀 𝄞' });
    expect(validateCommand(emoji, 'Deposit')).toBeUndefined();
  });
});
