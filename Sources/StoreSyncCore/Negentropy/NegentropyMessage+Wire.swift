extension NegentropyMessage {
    /// The outcome of reading a message's version byte.
    public enum Decoded: Hashable, Sendable {
        /// A version 1 message.
        case message(NegentropyMessage)
        /// A well-formed request for another protocol version (0x60...0x6F but not 0x61).
        case otherVersion(UInt8)
    }

    /// Decodes a message, validating every field against the bytes present.
    ///
    /// Throws `WireError` for an empty message, a version byte outside 0x60...0x6F, a truncated or
    /// oversized or non-minimal varint, an id prefix over 32 bytes, an unknown mode, an IdList
    /// longer than the input, a bound below the previous one, or more ranges or ids than `limits`.
    public static func decode(_ bytes: [UInt8], limits: DecodingLimits = .unlimited) throws(WireError) -> Decoded {
        var reader = ByteReader(bytes)
        guard !reader.isAtEnd else { throw .emptyMessage }
        let version = try reader.readByte("protocol version")
        guard (0x60...0x6F).contains(version) else { throw .invalidVersion(version) }
        guard version == protocolVersion else { return .otherVersion(version) }

        var ranges = [Range]()
        var idCount = 0
        var lastTimestamp: UInt64 = 0
        var previousBound = Bound.zero
        while !reader.isAtEnd {
            guard ranges.count < limits.maximumRanges else { throw .tooManyRanges(limit: limits.maximumRanges) }
            let boundOffset = reader.offset
            let bound = try decodeBound(&reader, lastTimestamp: &lastTimestamp)
            guard !(bound.key < previousBound.key) else { throw .boundNotAscending(offset: boundOffset) }
            previousBound = bound

            let modeOffset = reader.offset
            let mode = try reader.readVarInt("range mode")
            let payload: Payload
            switch mode {
            case 0:
                payload = .skip
            case 1:
                let raw = try reader.readBytes(Fingerprint.byteCount, "fingerprint")
                guard let fingerprint = Fingerprint(bytes: raw) else {
                    throw .truncated(what: "fingerprint", offset: modeOffset)
                }
                payload = .fingerprint(fingerprint)
            case 2:
                let countOffset = reader.offset
                let count = try reader.readVarInt("IdList count")
                guard count <= UInt64(reader.remaining / MessageHash.byteCount) else {
                    throw .idCountExceedsInput(count: count, offset: countOffset)
                }
                idCount += Int(count)
                guard idCount <= limits.maximumIds else { throw .tooManyIds(limit: limits.maximumIds) }
                var ids = [MessageHash]()
                ids.reserveCapacity(Int(count))
                for _ in 0..<count {
                    ids.append(try reader.readHash("IdList id"))
                }
                payload = .idList(ids)
            default:
                throw .invalidMode(mode, offset: modeOffset)
            }
            ranges.append(Range(upperBound: bound, payload: payload))
        }
        return .message(NegentropyMessage(ranges: ranges))
    }

    private static func decodeBound(_ reader: inout ByteReader, lastTimestamp: inout UInt64) throws(WireError) -> Bound
    {
        let encoded = try reader.readVarInt("bound timestamp")
        var timestamp: UInt64
        if encoded == 0 {
            timestamp = .max
        } else {
            let (sum, overflow) = lastTimestamp.addingReportingOverflow(encoded - 1)
            timestamp = overflow ? .max : sum
        }
        lastTimestamp = timestamp
        let lengthOffset = reader.offset
        let length = try reader.readVarInt("bound prefix length")
        guard length <= 32 else { throw .boundPrefixTooLong(length: length, offset: lengthOffset) }
        let prefix = try reader.readBytes(Int(length), "bound id prefix")
        return Bound(timestamp: timestamp, prefix: prefix)
    }

    /// The canonical encoding of the message.
    public func encoded() -> [UInt8] {
        var writer = MessageWriter()
        for range in ranges {
            writer.write(range)
        }
        return writer.bytes
    }
}

/// Writes a message's ranges one by one, delta-encoding each bound's timestamp against the
/// previous bound's, and can roll back to an earlier point (used when a frame limit is reached).
struct MessageWriter {
    private(set) var bytes: [UInt8] = [NegentropyMessage.protocolVersion]
    private var lastTimestamp: UInt64 = 0

    /// A point to roll back to.
    struct Checkpoint {
        fileprivate let count: Int
        fileprivate let lastTimestamp: UInt64
    }

    var checkpoint: Checkpoint { Checkpoint(count: bytes.count, lastTimestamp: lastTimestamp) }

    mutating func rollBack(to checkpoint: Checkpoint) {
        bytes.removeSubrange(checkpoint.count...)
        lastTimestamp = checkpoint.lastTimestamp
    }

    var count: Int { bytes.count }

    mutating func writeBound(_ bound: Bound) {
        let timestamp = bound.key.timestamp
        if timestamp == .max {
            lastTimestamp = .max
            bytes.append(0)
        } else {
            let delta = timestamp &- lastTimestamp
            lastTimestamp = timestamp
            VarInt.encode(delta &+ 1, into: &bytes)
        }
        VarInt.encode(UInt64(bound.prefixLength), into: &bytes)
        bound.key.hash.appendPrefix(bound.prefixLength, to: &bytes)
    }

    mutating func write(_ range: NegentropyMessage.Range) {
        writeBound(range.upperBound)
        VarInt.encode(range.payload.mode, into: &bytes)
        switch range.payload {
        case .skip:
            break
        case .fingerprint(let fingerprint):
            fingerprint.append(to: &bytes)
        case .idList(let ids):
            VarInt.encode(UInt64(ids.count), into: &bytes)
            for id in ids { id.append(to: &bytes) }
        }
    }

    mutating func writeSkip(upTo bound: Bound) {
        writeBound(bound)
        bytes.append(0)
    }

    mutating func writeFingerprint(_ fingerprint: Fingerprint, upTo bound: Bound) {
        writeBound(bound)
        bytes.append(1)
        fingerprint.append(to: &bytes)
    }

    /// Writes an IdList range whose ids the caller appends with `appendId`.
    mutating func beginIdList(upTo bound: Bound, count: Int) {
        writeBound(bound)
        bytes.append(2)
        VarInt.encode(UInt64(count), into: &bytes)
    }

    mutating func appendId(_ id: MessageHash) {
        id.append(to: &bytes)
    }
}
