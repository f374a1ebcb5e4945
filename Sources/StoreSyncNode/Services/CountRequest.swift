import NIOCore
import StoreSyncCore

/// What a count request selects: a pubsub topic, optionally some of its content topics, and
/// timestamps `[start, end)` in ns.
public struct CountFilter: Equatable, Sendable {
    /// The most content topics one request may name.
    public static let maximumContentTopics = 10

    public var pubsubTopic: String
    public var contentTopics: [String]
    public var timeRange: Range<UInt64>

    public init(pubsubTopic: String, contentTopics: [String] = [], timeRange: Range<UInt64>) {
        self.pubsubTopic = pubsubTopic
        self.contentTopics = contentTopics
        self.timeRange = timeRange
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeTopic(pubsubTopic)
        buffer.writeInteger(UInt8(contentTopics.count))
        for topic in contentTopics { buffer.writeTopic(topic) }
        buffer.writeInteger(timeRange.lowerBound)
        buffer.writeInteger(timeRange.upperBound)
    }

    init(decoding buffer: inout ByteBuffer) throws(ProtocolError) {
        pubsubTopic = try buffer.readTopic()
        guard let count = buffer.readInteger(as: UInt8.self) else { throw .bad("content topic count missing") }
        guard count <= Self.maximumContentTopics else {
            throw .bad("\(count) content topics; at most \(Self.maximumContentTopics)")
        }
        contentTopics = []
        for _ in 0..<count { contentTopics.append(try buffer.readTopic()) }
        guard let start = buffer.readInteger(as: UInt64.self), let end = buffer.readInteger(as: UInt64.self) else {
            throw .bad("count time range truncated")
        }
        guard start <= end else { throw .bad("time range start \(start) after end \(end)") }
        timeRange = start..<end
    }
}

/// A count stream's request: per-bucket counts and fingerprints of a filter's messages, or a
/// page of their keys. Neither carries a message body.
public enum CountRequest: Equatable, Sendable {
    /// Count and fingerprint of each bucket of `bucketWidth` ns from the filter's start.
    case buckets(CountFilter, bucketWidth: UInt64)
    /// Keys (timestamp and hash) in key order after `cursor`, at most `limit`.
    case keys(CountFilter, after: SyncKey?, limit: Int)

    /// The most buckets one request may ask for.
    public static let maximumBuckets = 10_000
    /// The most keys one page may hold.
    public static let maximumKeys = 10_000

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .buckets(let filter, let width):
            buffer.writeInteger(UInt8(1))
            filter.encode(into: &buffer)
            buffer.writeInteger(width)
        case .keys(let filter, let cursor, let limit):
            buffer.writeInteger(UInt8(2))
            filter.encode(into: &buffer)
            buffer.writeInteger(UInt32(clamping: limit))
            if let cursor {
                buffer.writeInteger(UInt8(1))
                buffer.writeInteger(cursor.timestamp)
                buffer.writeBytes(cursor.hash.bytes)
            } else {
                buffer.writeInteger(UInt8(0))
            }
        }
    }

    public init(decoding buffer: inout ByteBuffer) throws(ProtocolError) {
        switch buffer.readInteger(as: UInt8.self) {
        case 1:
            let filter = try CountFilter(decoding: &buffer)
            guard let width = buffer.readInteger(as: UInt64.self), width > 0 else {
                throw .bad("bucket width missing or zero")
            }
            let span = filter.timeRange.upperBound - filter.timeRange.lowerBound
            guard
                span / width < UInt64(Self.maximumBuckets)
                    || (span / width == UInt64(Self.maximumBuckets) && span % width == 0)
            else { throw .bad("more than \(Self.maximumBuckets) buckets; widen them or narrow the range") }
            self = .buckets(filter, bucketWidth: width)
        case 2:
            let filter = try CountFilter(decoding: &buffer)
            guard let limit = buffer.readInteger(as: UInt32.self), limit > 0, limit <= Self.maximumKeys else {
                throw .bad("key page limit must be 1 to \(Self.maximumKeys)")
            }
            var cursor: SyncKey?
            switch buffer.readInteger(as: UInt8.self) {
            case 0: cursor = nil
            case 1:
                guard let timestamp = buffer.readInteger(as: UInt64.self), let bytes = buffer.readBytes(length: 32),
                    let hash = MessageHash(bytes: bytes)
                else { throw .bad("cursor truncated") }
                cursor = SyncKey(timestamp: timestamp, hash: hash)
            default: throw .bad("cursor flag missing")
            }
            self = .keys(filter, after: cursor, limit: Int(limit))
        default:
            throw .bad("unknown count request")
        }
        guard buffer.readableBytes == 0 else { throw .bad("\(buffer.readableBytes) bytes after the count request") }
    }
}

/// One bucket of a count answer: how many messages, and their Negentropy fingerprint.
public struct BucketCount: Equatable, Sendable {
    public var count: Int
    public var fingerprint: Fingerprint

    public init(count: Int, fingerprint: Fingerprint) {
        self.count = count
        self.fingerprint = fingerprint
    }
}

/// The answer to a count request.
public enum CountResponse: Equatable, Sendable {
    case buckets([BucketCount])
    /// A page of keys, and whether more follow.
    case keys([SyncKey], more: Bool)

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .buckets(let buckets):
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(UInt32(buckets.count))
            for bucket in buckets {
                buffer.writeInteger(UInt64(bucket.count))
                var bytes = [UInt8]()
                bucket.fingerprint.append(to: &bytes)
                buffer.writeBytes(bytes)
            }
        case .keys(let keys, let more):
            buffer.writeInteger(UInt8(2))
            buffer.writeInteger(UInt32(keys.count))
            for key in keys {
                buffer.writeInteger(key.timestamp)
                buffer.writeBytes(key.hash.bytes)
            }
            buffer.writeInteger(UInt8(more ? 1 : 0))
        }
    }

    public init(decoding buffer: inout ByteBuffer) throws(ProtocolError) {
        let kind = buffer.readInteger(as: UInt8.self)
        guard let count = buffer.readInteger(as: UInt32.self) else { throw .bad("count answer truncated") }
        switch kind {
        case 1:
            guard count <= CountRequest.maximumBuckets, buffer.readableBytes == Int(count) * 24 else {
                throw .bad("bucket list length mismatch")
            }
            var buckets = [BucketCount]()
            for _ in 0..<count {
                guard let value = buffer.readInteger(as: UInt64.self), value <= UInt64(Int.max),
                    let bytes = buffer.readBytes(length: Fingerprint.byteCount),
                    let fingerprint = Fingerprint(bytes: bytes)
                else { throw .bad("bucket truncated") }
                buckets.append(BucketCount(count: Int(value), fingerprint: fingerprint))
            }
            self = .buckets(buckets)
        case 2:
            guard count <= CountRequest.maximumKeys, buffer.readableBytes == Int(count) * 40 + 1 else {
                throw .bad("key list length mismatch")
            }
            var keys = [SyncKey]()
            for _ in 0..<count {
                guard let timestamp = buffer.readInteger(as: UInt64.self), let bytes = buffer.readBytes(length: 32),
                    let hash = MessageHash(bytes: bytes)
                else { throw .bad("key truncated") }
                keys.append(SyncKey(timestamp: timestamp, hash: hash))
            }
            self = .keys(keys, more: buffer.readInteger(as: UInt8.self) == 1)
        default:
            throw .bad("unknown count answer")
        }
    }
}
