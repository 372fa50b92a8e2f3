import { ErrorCodes, InvalidStreamIdError } from '../errors';
import { MAX_STREAM_ID_LENGTH, streamId } from './stream-id';

function refusal(value: string): InvalidStreamIdError {
  try {
    streamId(value);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidStreamIdError);
    return error as InvalidStreamIdError;
  }
  throw new Error(`streamId(${JSON.stringify(value)}) was accepted`);
}

describe('streamId', () => {
  it('accepts an ordinary id unchanged', () => {
    expect(streamId('account-42')).toBe('account-42');
    expect(streamId(`o'brien "x" \\ 流水-🚀`)).toBe(`o'brien "x" \\ 流水-🚀`);
  });

  it.each([
    ['a leading space', ' account-42'],
    ['a trailing space', 'account-42 '],
    ['padding on both sides', 'book- padded '],
    ['a no-break space', '\u00a0account 42'],
    ['an em space', 'account 42\u2003'],
    ['a byte order mark', '\ufeffaccount-42'],
    ['a trailing newline', 'account-42\n'],
  ])('refuses an id with surrounding whitespace instead of trimming it (%s)', (_label, value) => {
    const error = refusal(value);
    expect(error.reason).toBe('it has leading or trailing whitespace');
    expect(error.value).toBe(value);
    expect(error.message).toContain('it has leading or trailing whitespace');
    expect(error.message).toContain('never trimmed');
  });

  it('keeps whitespace inside an id and never normalises Unicode', () => {
    expect(streamId('account 42')).toBe('account 42');
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    expect(streamId(composed)).toBe(composed);
    expect(streamId(decomposed)).toBe(decomposed);
    expect(streamId(composed)).not.toBe(streamId(decomposed));
  });

  it('refuses an empty id', () => {
    const error = refusal('');
    expect(error.reason).toBe('it is empty');
    expect(error.message).toContain('it is empty');
  });

  it.each([
    ['spaces', '   '],
    ['tabs and newlines', '\t\n\r '],
    ['a no-break space', '\u00a0'],
  ])('refuses an id of whitespace only (%s)', (_label, value) => {
    const error = refusal(value);
    expect(error.reason).toBe('it is only whitespace');
    expect(error.message).toContain('it is only whitespace');
  });

  it(`accepts ${MAX_STREAM_ID_LENGTH} characters and refuses ${MAX_STREAM_ID_LENGTH + 1}`, () => {
    expect(MAX_STREAM_ID_LENGTH).toBe(255);
    expect(streamId('x'.repeat(255))).toHaveLength(255);
    expect(refusal(`  ${'x'.repeat(253)}`).reason).toBe('it has leading or trailing whitespace');
    const error = refusal('x'.repeat(256));
    expect(error.reason).toBe('it has 256 characters, more than 255');
    expect(error.message).toContain('it has 256 characters, more than 255');
  });

  it.each([
    ['NUL', '\u0000'],
    ['newline', '\n'],
    ['DEL', '\u007f'],
    ['NEL (C1)', '\u0085'],
    ['escape', '\u001b'],
  ])('refuses a control character inside the id (%s)', (_label, char) => {
    const error = refusal(`account${char}42`);
    expect(error.reason).toBe('it contains a control character');
    expect(error.message).toContain('it contains a control character');
  });

  it.each(['a\ud800', '\udc00b', 'a\udc00\ud800b'])(
    'refuses an unpaired UTF-16 surrogate (%j), which no store can hold',
    (id) => {
      expect(() => streamId(id)).toThrow(/unpaired UTF-16 surrogate/);
      expect(streamId('emoji-\ud83d\ude00')).toBe('emoji-\ud83d\ude00'); // a pair is fine
    },
  );

  it.each(['*', '?', '[', ']'])('refuses the pattern character %s', (char) => {
    for (const value of [`${char}account`, `acc${char}ount`, `account${char}`]) {
      const error = refusal(value);
      expect(error.reason).toBe('it contains one of * ? [ ], reserved for stream patterns');
      expect(error.message).toContain('reserved for stream patterns');
    }
  });

  it('refuses a leading $ (reserved for EventCore) but allows $ elsewhere', () => {
    for (const value of ['$idempotency-1', '$x']) {
      const error = refusal(value);
      expect(error.reason).toBe('it starts with "$", reserved for EventCore');
      expect(error.message).toContain('reserved for EventCore');
    }
    expect(streamId('price-$5')).toBe('price-$5');
  });

  it('raises InvalidStreamIdError with a stable code, the value and the reason', () => {
    const error = refusal('a*b');
    expect(error.code).toBe('eventcore.invalid_stream_id');
    expect(error.code).toBe(ErrorCodes.invalidStreamId);
    expect(error.name).toBe('InvalidStreamIdError');
    expect(error.value).toBe('a*b');
    expect(error.message).toContain('"a*b"');
    expect(error.message).toContain(error.reason);
  });
});
