import { IsInt } from 'class-validator';
import { CommandValidationError, ErrorCodes, InvalidCommandError } from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import type { StreamId } from '../store/stream-id';
import { Command, Stream } from './command.decorators';
import { CommandExecutor } from './command-executor';
import type { CommandContext, CommandLogic } from './command-logic';

type Ev = { type: 'Deposited'; data: { amount: number } };

abstract class Deposit implements CommandLogic<null, Ev> {
  @Stream() account: StreamId;
  @IsInt() amount: number;
  note: string; // no decorator: validation would refuse it on every call
  constructor(account: string, amount: number) {
    this.account = account as StreamId;
    this.amount = amount;
    this.note = 'from the counter';
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_: null, ctx: CommandContext<Ev, Deposit>): void {
    ctx.emit('account', { type: 'Deposited', data: { amount: this.amount } });
  }
}

@Command()
class ValidatedDeposit extends Deposit {}

@Command({ validate: false })
class UnvalidatedDeposit extends Deposit {}

@Command({ validate: true })
class AlwaysValidatedDeposit extends Deposit {}

function setup(options: { validate?: boolean } = {}) {
  const store = new InMemoryEventStore();
  const reads = jest.spyOn(store, 'readStreams');
  return { store, reads, executor: new CommandExecutor(store, options) };
}

describe('CommandExecutor: a command class with an undecorated property', () => {
  it('is refused as a programming error (InvalidCommandError) on every call, before any I/O', async () => {
    const { reads, executor } = setup();

    for (let call = 0; call < 2; call++) {
      const error = await executor.execute(new ValidatedDeposit('acc-1', 5)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidCommandError);
      expect(error).not.toBeInstanceOf(CommandValidationError);
      expect((error as InvalidCommandError).code).toBe(ErrorCodes.invalidCommand);
      expect((error as InvalidCommandError).properties).toEqual(['note']);
      expect((error as Error).message).toContain('class ValidatedDeposit defines "note"');
    }
    expect(reads).not.toHaveBeenCalled();
  });

  it('runs when the class turns validation off: the property is harmless then', async () => {
    const { executor } = setup();

    const result = await executor.execute(new UnvalidatedDeposit('acc-1', 5));

    expect(result.events.map((e) => e.data)).toEqual([{ amount: 5 }]);
  });

  it('runs when the executor turns validation off, unless the class turns it back on', async () => {
    const { executor } = setup({ validate: false });

    const result = await executor.execute(new ValidatedDeposit('acc-1', 5));
    expect(result.events.map((e) => e.data)).toEqual([{ amount: 5 }]);

    await expect(executor.execute(new AlwaysValidatedDeposit('acc-1', 5))).rejects.toBeInstanceOf(
      InvalidCommandError,
    );
  });
});
