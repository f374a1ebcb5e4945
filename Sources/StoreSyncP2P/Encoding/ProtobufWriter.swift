/// Writes the few protobuf messages of the libp2p layer (keys, the Noise payload, identify,
/// metadata) in field order, as their schemas' canonical encoders do: signatures and PeerIds
/// are computed over these bytes, so the encoding must be deterministic.
public struct ProtobufWriter: Sendable {
    /// The message so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// A varint field (wire type 0).
    public mutating func varint(_ field: UInt64, _ value: UInt64) {
        UVarint.write(field << 3, to: &bytes)
        UVarint.write(value, to: &bytes)
    }

    /// A length-delimited field (wire type 2).
    public mutating func bytes(_ field: UInt64, _ value: some Collection<UInt8>) {
        UVarint.write(field << 3 | 2, to: &bytes)
        UVarint.write(UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }

    /// A string field.
    public mutating func string(_ field: UInt64, _ value: String) {
        self.bytes(field, Array(value.utf8))
    }

    /// A packed repeated varint field.
    public mutating func packed(_ field: UInt64, _ values: [UInt64]) {
        var body: [UInt8] = []
        for value in values { UVarint.write(value, to: &body) }
        self.bytes(field, body)
    }
}
