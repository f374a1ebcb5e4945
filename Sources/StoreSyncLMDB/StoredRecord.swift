import StoreSyncCore

/// A value of the `messages` database: a whole message (format byte 1), or the key and topics of
/// a message kept in another archive: by name (format byte 2, as store format 2 wrote them:
/// timestamp as UInt64 BE, then pubsub and content topic, each as a varint length and its bytes)
/// or by id (format byte 3, written since store format 3: timestamp, the scope id of the pubsub
/// topic's tree and the content topic id, UInt64 BE and two UInt32 BE; a third of the bytes).
enum StoredRecord {
    case message(WakuMessage)
    case indexed(timestamp: UInt64, pubsubTopic: String, contentTopic: String)
    case indexedByIds(timestamp: UInt64, pubsubScope: UInt32, contentTopicId: UInt32)

    static let indexedFormat: UInt8 = 2
    static let indexedByIdsFormat: UInt8 = 3
    static let indexedByIdsSize = 17

    init(_ raw: UnsafeRawBufferPointer) throws(StoreError) {
        switch raw.first {
        case Self.indexedByIdsFormat:
            guard raw.count == Self.indexedByIdsSize else {
                throw .corruptRecord(what: "index record", detail: "\(raw.count) bytes, not \(Self.indexedByIdsSize)")
            }
            self = .indexedByIds(
                timestamp: raw.loadBigEndianUInt64(at: 1), pubsubScope: raw.loadBigEndianUInt32(at: 9),
                contentTopicId: raw.loadBigEndianUInt32(at: 13))
        case Self.indexedFormat:
            var reader = ByteReader(Array(raw.dropFirst()))
            do {
                let timestamp = try reader.readBytes(8, "timestamp").reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                func field(_ what: StaticString) throws -> String {
                    let length = try reader.readVarInt(what)
                    guard length <= UInt64(reader.remaining) else {
                        throw WireError.truncated(what: "\(what)", offset: reader.offset)
                    }
                    return String(decoding: try reader.readBytes(Int(length), what), as: UTF8.self)
                }
                self = .indexed(
                    timestamp: timestamp, pubsubTopic: try field("pubsub topic"),
                    contentTopic: try field("content topic"))
            } catch {
                throw .corruptRecord(what: "index record", detail: "\(error)")
            }
        default:
            self = .message(try WakuMessage(storeEncoded: raw))
        }
    }

    /// An index record by id (format byte 3).
    static func encoded(timestamp: UInt64, pubsubScope: UInt32, contentTopicId: UInt32) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: indexedByIdsSize)
        out.withUnsafeMutableBytes {
            encode(timestamp: timestamp, pubsubScope: pubsubScope, contentTopicId: contentTopicId, into: $0)
        }
        return out
    }

    /// Writes an index record by id into the first `indexedByIdsSize` bytes of `out`.
    static func encode(
        timestamp: UInt64, pubsubScope: UInt32, contentTopicId: UInt32, into out: UnsafeMutableRawBufferPointer
    ) {
        out[0] = indexedByIdsFormat
        out.storeBytes(of: timestamp.bigEndian, toByteOffset: 1, as: UInt64.self)
        out.storeBytes(of: pubsubScope.bigEndian, toByteOffset: 9, as: UInt32.self)
        out.storeBytes(of: contentTopicId.bigEndian, toByteOffset: 13, as: UInt32.self)
    }

    /// How a record gives its message's topics.
    enum Topics {
        /// By name: a whole message, or an index record of store format 2.
        case named(pubsubTopic: String, contentTopic: String)
        /// By the scope id of the pubsub topic's tree and the content topic id.
        case byId(pubsubScope: UInt32, contentTopicId: UInt32)
    }

    var topics: Topics {
        switch self {
        case .message(let message): .named(pubsubTopic: message.pubsubTopic, contentTopic: message.contentTopic)
        case .indexed(_, let pubsubTopic, let contentTopic):
            .named(pubsubTopic: pubsubTopic, contentTopic: contentTopic)
        case .indexedByIds(_, let pubsubScope, let contentTopicId):
            .byId(pubsubScope: pubsubScope, contentTopicId: contentTopicId)
        }
    }

    /// The timestamp of the record's key.
    var timestamp: UInt64 {
        switch self {
        case .message(let message): UInt64(bitPattern: message.timestamp)
        case .indexed(let timestamp, _, _), .indexedByIds(let timestamp, _, _): timestamp
        }
    }

    /// The timestamp of a stored record, read without decoding the rest of an index record.
    static func timestamp(of raw: UnsafeRawBufferPointer) throws(StoreError) -> UInt64 {
        guard raw.first == indexedFormat || raw.first == indexedByIdsFormat else { return try Self(raw).timestamp }
        guard raw.count >= 9 else {
            throw .corruptRecord(what: "index record", detail: "\(raw.count) bytes, no timestamp")
        }
        return raw.loadBigEndianUInt64(at: 1)
    }
}
