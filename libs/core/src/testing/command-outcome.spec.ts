import 'reflect-metadata';
import { AssertionError } from 'node:assert/strict';
import { Command, Stream } from '../command/command.decorators';
import type { CommandContext, CommandLogic } from '../command/command-logic';
import { type StreamId, streamId } from '../store/stream-id';
import { given } from './command-spec';

type Pinged = { type: 'Pinged'; data: Record<string, never> };

@Command()
class Ping implements CommandLogic<number, Pinged> {
  @Stream() target: StreamId = streamId('pings-1');
  initialState(): number {
    return 0;
  }
  apply(count: number): number {
    return count + 1;
  }
  handle(_count: number, ctx: CommandContext<Pinged, Ping>): void {
    ctx.emit('target', { type: 'Pinged', data: {} });
  }
}

describe('CommandOutcome awaited without an assertion', () => {
  it('rejects at once, naming the assertions to call, instead of hanging', async () => {
    // Awaiting the outcome bare is what a forgotten `.then(...)` looks like. TypeScript refuses it
    // (TS1320) for a typed outcome, but not from JavaScript or through `any`/`unknown`. It used to
    // never settle; jest's timeout would fail this test then.
    const outcome: unknown = given().when(new Ping());
    const bare = async (): Promise<unknown> => await outcome;
    const error = await bare().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AssertionError);
    expect((error as Error).message).toMatch(
      /\.then\(expected\), \.thenNothing\(\) or \.thenFails/,
    );
  }, 2_000);

  it('still asserts through .then(expected) and .thenNothing()', async () => {
    await given()
      .when(new Ping())
      .then({ 'pings-1': [{ type: 'Pinged', data: {} }] });
    await expect(given().when(new Ping()).thenNothing()).rejects.toThrow(AssertionError);
  });
});
