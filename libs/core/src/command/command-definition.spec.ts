import { Allow, IsInt, IsOptional, IsString } from 'class-validator';
import { ErrorCodes, InvalidCommandError } from '../errors';
import type { StreamId } from '../store/stream-id';
import { checkPropertiesDecorated, commandDefinition } from './command-definition';
import { Command, Stream } from './command.decorators';
import type { CommandContext, CommandLogic } from './command-logic';
import { validateCommand } from './validate-command';

/** The command methods, so that each test class only shows its properties. */
abstract class Logic {
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_state: null, _ctx: CommandContext): void {}
}

@Command()
class Decorated extends Logic {
  @Stream() account: StreamId;
  @IsInt() amount: number;
  @IsOptional() @IsString() note?: string;
  @Allow() anything: unknown;
  constructor(account: string, amount: number, note?: string) {
    super();
    this.account = account as StreamId;
    this.amount = amount;
    this.note = note;
    this.anything = { free: true };
  }
}

@Command()
class ForgotADecorator extends Logic {
  @Stream() account: StreamId;
  @IsInt() amount: number;
  reference: string;
  constructor(account: string, amount: number, reference: string) {
    super();
    this.account = account as StreamId;
    this.amount = amount;
    this.reference = reference;
  }
}

@Command({ name: 'RenamedCommand' })
class ForgotTwo extends Logic {
  @Stream() account: StreamId;
  label = 'default'; // a field with an initializer is an own property too
  readonly tags: string[];
  constructor(account: string) {
    super();
    this.account = account as StreamId;
    this.tags = [];
  }
}

@Command()
class ChildForgot extends Decorated {
  extra: number;
  constructor(account: string) {
    super(account, 1);
    this.extra = 2;
  }
}

@Command()
class NeedsItsArguments extends Logic {
  @Stream() account: StreamId;
  undecorated: string;
  constructor(account: string) {
    super();
    if (typeof account !== 'string') throw new TypeError('account is required');
    this.account = account as StreamId;
    this.undecorated = account;
  }
}

function failure(command: object): InvalidCommandError {
  try {
    checkPropertiesDecorated(commandDefinition(command));
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCommandError);
    return error as InvalidCommandError;
  }
  throw new Error(`${command.constructor.name} passed the check`);
}

describe('checkPropertiesDecorated', () => {
  it('accepts a class whose every property has @Stream() or a class-validator decorator', () => {
    expect(() =>
      checkPropertiesDecorated(commandDefinition(new Decorated('a-1', 1))),
    ).not.toThrow();
    expect(() =>
      checkPropertiesDecorated(commandDefinition(new Decorated('a-1', 1, 'n'))),
    ).not.toThrow();
  });

  it('refuses a property without a decorator as a programming error naming class and property', () => {
    const error = failure(new ForgotADecorator('acc-1', 5, 'ref-1'));

    expect(error.code).toBe(ErrorCodes.invalidCommand);
    expect(error.code).toBe('eventcore.invalid_command');
    expect(error.commandName).toBe('ForgotADecorator');
    expect(error.properties).toEqual(['reference']);
    expect(error.message).toContain('Command ForgotADecorator is not usable');
    expect(error.message).toContain('class ForgotADecorator defines "reference"');
    expect(error.message).toContain('@Allow()');
    expect(error.message).toContain('@Command({ validate: false })');
  });

  it('is the mistake class-validator would otherwise report on every call as bad input', async () => {
    // The check matches the whitelist: what it refuses, validation refuses for any input.
    await expect(
      validateCommand(new ForgotADecorator('acc-1', 5, 'ref-1'), 'ForgotADecorator'),
    ).rejects.toMatchObject({
      code: ErrorCodes.commandValidation,
      failures: [expect.objectContaining({ property: 'reference' })],
    });
  });

  it('lists every undecorated property, and names the class when the command is renamed', () => {
    const error = failure(new ForgotTwo('acc-1'));

    expect(error.commandName).toBe('RenamedCommand');
    expect([...(error.properties ?? [])].sort()).toEqual(['label', 'tags']);
    expect(error.message).toContain(
      'Command RenamedCommand is not usable: class ForgotTwo defines',
    );
    expect(error.message).toContain('"label"');
    expect(error.message).toContain('"tags"');
  });

  it("checks a subclass's own properties along with the inherited, decorated ones", () => {
    const error = failure(new ChildForgot('acc-1'));
    expect(error.properties).toEqual(['extra']);
  });

  it('says to use a method when the undecorated property holds a function', () => {
    @Command()
    class ArrowHandle implements CommandLogic<null> {
      @Stream() account: StreamId = 'acc-1' as StreamId;
      initialState = (): null => null;
      apply(): null {
        return null;
      }
      handle(): void {}
    }

    const error = failure(new ArrowHandle());

    expect(error.properties).toEqual(['initialState']);
    expect(error.message).toContain(
      'initialState holds a function: define it as a method, not an arrow-function property',
    );
  });

  it('judges the class, not the instance: a property added after construction stays input (400)', () => {
    const tampered = Object.assign(new Decorated('acc-1', 5), { isAdmin: true });

    expect(() => checkPropertiesDecorated(commandDefinition(tampered))).not.toThrow();
  });

  it('examines each class once and keeps its answer', () => {
    let constructed = 0;
    @Command()
    class Counted extends Logic {
      @Stream() account: StreamId;
      forgotten: number;
      constructor(account: string) {
        super();
        constructed += 1;
        this.account = account as StreamId;
        this.forgotten = 0;
      }
    }
    const definition = commandDefinition(new Counted('acc-1'));
    constructed = 0;

    for (let i = 0; i < 3; i++) expect(() => checkPropertiesDecorated(definition)).toThrow();

    expect(constructed).toBe(1);
  });

  it('cannot examine a class whose constructor throws without arguments, and lets it through', () => {
    // Documented limit: such a class keeps class-validator's 400 for the undecorated property.
    expect(() =>
      checkPropertiesDecorated(commandDefinition(new NeedsItsArguments('acc-1'))),
    ).not.toThrow();
  });
});
