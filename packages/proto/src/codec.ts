import protobuf from 'protobufjs/light.js';

/**
 * The input form of a message: every field optional (a missing field takes its proto3
 * default), nested messages partial too, `null` for an absent message field.
 */
export type MessageInit<T> = { [K in keyof T]?: FieldInit<T[K]> };
type FieldInit<V> = V extends Uint8Array
  ? V
  : V extends readonly (infer E)[]
    ? FieldInit<E>[]
    : V extends object
      ? MessageInit<V>
      : V;

/** Encodes and decodes one message type of the embedded descriptor. */
export interface MessageCodec<T> {
  /** The fully qualified protobuf name, e.g. `masksweep.v1.MetricEvent`. */
  readonly typeName: string;
  /** Checks the message and encodes it; throws InvalidMessageError naming the bad field. */
  encode(message: MessageInit<T>): Uint8Array;
  /**
   * A plain object with every field present: proto3 defaults for absent scalars, `[]` and
   * `{}` for repeated and map fields, `null` for absent message fields, 64-bit integers as
   * numbers; of a oneof only the field that is set, with the oneof's name holding its name.
   * Throws MessageDecodeError when the bytes are not this message.
   */
  decode(bytes: Uint8Array): T;
  /** The decoded form of `message`: what the receiver of `encode(message)` gets. */
  create(message?: MessageInit<T>): T;
}

/** A message that cannot be encoded; `field` is the path of the offending field. */
export class InvalidMessageError extends TypeError {
  override readonly name = 'InvalidMessageError';
  constructor(
    readonly typeName: string,
    readonly field: string,
    reason: string,
  ) {
    super(`${typeName}: ${field}: ${reason}`);
  }
}

/** Bytes that are not an encoding of the expected message. */
export class MessageDecodeError extends Error {
  override readonly name = 'MessageDecodeError';
  constructor(
    readonly typeName: string,
    byteLength: number,
    options: { cause: unknown },
  ) {
    super(
      `cannot decode ${typeName} from ${byteLength} bytes: ${(options.cause as Error).message}`,
      options,
    );
  }
}

/** The reflection root of a JSON descriptor, as embedded in the generated files. */
export function loadDescriptor(descriptor: object): protobuf.Root {
  // protobufjs's INamespace typings miss parts of its own toJSON output (a map's keyType).
  return protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
}

const DECODED_FORM: protobuf.IConversionOptions = {
  longs: Number,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

export function createCodec<T>(root: protobuf.Root, typeName: string): MessageCodec<T> {
  const type = root.lookupType(typeName);
  const codec: MessageCodec<T> = {
    typeName,
    encode(message) {
      const problem =
        type.verify(message) ?? rangeProblem(type, message as Record<string, unknown>);
      if (problem !== null) {
        const colon = problem.indexOf(':');
        throw new InvalidMessageError(
          typeName,
          problem.slice(0, colon),
          problem.slice(colon + 1).trim(),
        );
      }
      return type.encode(message).finish();
    },
    decode(bytes) {
      let decoded: protobuf.Message;
      try {
        decoded = type.decode(bytes);
      } catch (cause) {
        throw new MessageDecodeError(typeName, bytes.length, { cause });
      }
      return type.toObject(decoded, DECODED_FORM) as T;
    },
    create(message = {}) {
      return codec.decode(codec.encode(message));
    },
  };
  return codec;
}

/**
 * The encoding of a message whose only field, number `fieldNumber`, is a repeated message
 * field holding messages already encoded: each member framed as a length-delimited field,
 * in order. A sender that encoded (and so checked) each member on its own builds the
 * container without encoding them again.
 */
export function encodeRepeatedMessages(
  fieldNumber: number,
  encodedMembers: readonly Uint8Array[],
): Uint8Array {
  const writer = protobuf.Writer.create();
  // Wire type 2: length-delimited.
  const tag = (fieldNumber << 3) | 2;
  for (const member of encodedMembers) writer.uint32(tag).bytes(member);
  return writer.finish();
}

const INTEGER_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
  // 64-bit integers travel as JavaScript numbers: only the exactly representable ones.
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sint64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sfixed64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  fixed64: [0, Number.MAX_SAFE_INTEGER],
};

/**
 * protobufjs's verify checks types but not ranges: a uint32 of -1 would be sent as
 * 4294967295. Returns `<field path>: <reason>` for the first integer out of its range.
 */
function rangeProblem(type: protobuf.Type, message: Record<string, unknown>): string | null {
  for (const check of rangeChecksOf(type)) {
    const value = message[check.field];
    if (value === null || value === undefined) continue;
    if (check.map) {
      for (const key in value as object) {
        const problem = check.element(
          `${check.field}[${key}]`,
          (value as Record<string, unknown>)[key],
        );
        if (problem !== null) return problem;
      }
    } else if (check.repeated) {
      const elements = value as unknown[];
      for (let i = 0; i < elements.length; i++) {
        const problem = check.element(`${check.field}[${i}]`, elements[i]);
        if (problem !== null) return problem;
      }
    } else {
      const problem = check.element(check.field, value);
      if (problem !== null) return problem;
    }
  }
  return null;
}

interface RangeCheck {
  field: string;
  map: boolean;
  repeated: boolean;
  element(path: string, value: unknown): string | null;
}

// The fields of each type that can be out of range: integers and nested messages.
const rangeChecks = new WeakMap<protobuf.Type, RangeCheck[]>();

function rangeChecksOf(type: protobuf.Type): RangeCheck[] {
  let checks = rangeChecks.get(type);
  if (checks === undefined) {
    checks = [];
    for (const field of type.fieldsArray) {
      const nestedType = field.resolvedType instanceof protobuf.Type ? field.resolvedType : null;
      const range = INTEGER_RANGES[field.type];
      if (nestedType === null && range === undefined) continue;
      checks.push({
        field: field.name,
        map: field.map,
        repeated: field.repeated,
        element: nestedType
          ? (path, value) =>
              nested(path, rangeProblem(nestedType, value as Record<string, unknown>))
          : (path, value) => integerProblem(field.type, range as [number, number], path, value),
      });
    }
    rangeChecks.set(type, checks);
  }
  return checks;
}

function nested(path: string, problem: string | null): string | null {
  return problem === null ? null : `${path}.${problem}`;
}

function integerProblem(
  type: string,
  [min, max]: [number, number],
  path: string,
  value: unknown,
): string | null {
  // Long objects (accepted by protobufjs) carry their own range.
  if (typeof value !== 'number') return null;
  if (Number.isInteger(value) && value >= min && value <= max) return null;
  return `${path}: ${type} must be an integer in [${min}, ${max}], got ${value}`;
}
