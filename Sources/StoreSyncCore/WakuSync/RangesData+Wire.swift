/// The reference node's delta encoding of a payload (its `codec.nim`), written byte for byte as
/// it writes it, and read strictly: anything its encoder would not produce, beyond the bounds,
/// or past the end is an error that names the field and its offset.
extension RangesData {
    /// The most topics of either kind one payload may name.
    public static let maximumTopics = 64
    /// The longest topic read, in bytes.
    public static let maximumTopicLength = 1_024

    /// The payload's bytes. No ranges is the single byte 0.
    public func encoded() -> [UInt8] {
        guard !ranges.isEmpty else { return [0] }
        var output: [UInt8] = []
        var items = 0
        for range in ranges {
            if case .itemSet(let keys, _) = range.content { items += keys.count }
        }
        output.reserveCapacity(64 + ranges.count * 36 + items * 41)
        for topics in [pubsubTopics, contentTopics] {
            LEB128.write(UInt64(topics.count), to: &output)
            for topic in topics {
                LEB128.write(UInt64(topic.utf8.count), to: &output)
                output.append(contentsOf: topic.utf8)
            }
        }
        LEB128.write(start.timestamp, to: &output)
        // Hash prefixes are measured against the first lower bound's hash, never updated: the
        // reference encoder does so, and its decoder takes the prefix bytes as they come.
        let reference = start.hash.bytes
        var last = start.timestamp
        for range in ranges {
            let difference = range.upper.timestamp &- last
            last = range.upper.timestamp
            LEB128.write(difference, to: &output)
            if difference == 0 {
                let hash = range.upper.hash.bytes
                let common = zip(reference, hash).prefix { $0 == $1 }.count
                let length = min(common + 1, MessageHash.byteCount)
                output.append(UInt8(length))
                output.append(contentsOf: hash[..<length])
            }
            switch range.content {
            case .skip:
                output.append(0)
            case .fingerprint(let fingerprint):
                output.append(1)
                fingerprint.append(to: &output)
            case .itemSet(let keys, let reconciled):
                output.append(2)
                LEB128.write(UInt64(keys.count), to: &output)
                var previous: UInt64 = 0
                for key in keys {
                    LEB128.write(key.timestamp &- previous, to: &output)
                    previous = key.timestamp
                    key.hash.append(to: &output)
                }
                output.append(reconciled ? 1 : 0)
            }
        }
        return output
    }

    /// Decodes a payload within `limits`. Zero or one byte is the empty payload, as the
    /// reference decoder reads it.
    public init(decoding bytes: [UInt8], limits: DecodingLimits = .unlimited) throws(WireError) {
        self.init()
        guard bytes.count > 1 else { return }
        var reader = ByteReader(bytes)
        pubsubTopics = try Self.readTopics(&reader)
        contentTopics = try Self.readTopics(&reader)
        start = SyncKey(timestamp: try reader.readLEB128("first timestamp"))
        var last = start.timestamp
        var items = 0
        while !reader.isAtEnd {
            guard ranges.count < limits.maximumRanges else { throw .tooManyRanges(limit: limits.maximumRanges) }
            let offset = reader.offset
            let difference = try reader.readLEB128("range bound timestamp")
            let (timestamp, overflow) = last.addingReportingOverflow(difference)
            guard !overflow else { throw .timestampOverflow(offset: offset) }
            last = timestamp
            var upper = SyncKey(timestamp: timestamp)
            if difference == 0 {
                let lengthOffset = reader.offset
                let length = Int(try reader.readByte("range bound hash prefix length"))
                guard length <= MessageHash.byteCount else {
                    throw .boundPrefixTooLong(length: UInt64(length), offset: lengthOffset)
                }
                var hash = [UInt8](repeating: 0, count: MessageHash.byteCount)
                hash.replaceSubrange(0..<length, with: try reader.readBytes(length, "range bound hash prefix"))
                upper.hash = MessageHash(bytes: hash) ?? .zero
            }
            let typeOffset = reader.offset
            let content: Content
            switch try reader.readByte("range type") {
            case 0:
                content = .skip
            case 1:
                content = .fingerprint(try reader.readHash("fingerprint"))
            case 2:
                let countOffset = reader.offset
                let count = try reader.readLEB128("item set count")
                // Each item takes at least 33 bytes: a count beyond the bytes left is refused
                // before anything is reserved for it.
                guard count <= UInt64(reader.remaining / 33) else {
                    throw .idCountExceedsInput(count: count, offset: countOffset)
                }
                items += Int(count)
                guard items <= limits.maximumIds else { throw .tooManyIds(limit: limits.maximumIds) }
                var keys: [SyncKey] = []
                keys.reserveCapacity(Int(count))
                var previous: UInt64 = 0
                for _ in 0..<count {
                    let itemOffset = reader.offset
                    let (time, overflow) = previous.addingReportingOverflow(try reader.readLEB128("item timestamp"))
                    guard !overflow else { throw .timestampOverflow(offset: itemOffset) }
                    previous = time
                    keys.append(SyncKey(timestamp: time, hash: try reader.readHash("item hash")))
                }
                let flagOffset = reader.offset
                let flag = try reader.readByte("item set reconciled flag")
                guard flag <= 1 else { throw .invalidFlag(UInt64(flag), offset: flagOffset) }
                content = .itemSet(keys, reconciled: flag == 1)
            case let other:
                throw .invalidMode(UInt64(other), offset: typeOffset)
            }
            ranges.append(Range(upper: upper, content: content))
        }
    }

    private static func readTopics(_ reader: inout ByteReader) throws(WireError) -> [String] {
        let offset = reader.offset
        let count = try reader.readLEB128("topic count")
        guard count <= UInt64(maximumTopics) else { throw .tooManyTopics(count: count, offset: offset) }
        var topics: [String] = []
        for _ in 0..<count {
            let lengthOffset = reader.offset
            let length = try reader.readLEB128("topic length")
            guard length <= UInt64(maximumTopicLength) else {
                throw .topicTooLong(length: length, offset: lengthOffset)
            }
            let bytes = try reader.readBytes(Int(length), "topic")
            guard let topic = String(validating: bytes, as: UTF8.self) else {
                throw .invalidTopic(offset: lengthOffset)
            }
            topics.append(topic)
        }
        return topics
    }
}
