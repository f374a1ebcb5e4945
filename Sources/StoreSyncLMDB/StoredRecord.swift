import StoreSyncCore

/// A value of the `messages` database: a whole message (format 1), or the topics of a message
/// kept in another archive (format 2: format byte, timestamp as UInt64 BE, then pubsub and content
/// topic, each as a varint length and its bytes).
enum StoredRecord {
    case message(WakuMessage)
    case indexed(timestamp: UInt64, pubsubTopic: String, contentTopic: String)

    static let indexedFormat: UInt8 = 2

    init(_ raw: UnsafeRawBufferPointer) throws(StoreError) {
        guard raw.first == Self.indexedFormat else {
            self = .message(try WakuMessage(storeEncoded: raw))
            return
        }
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
                timestamp: timestamp, pubsubTopic: try field("pubsub topic"), contentTopic: try field("content topic"))
        } catch {
            throw .corruptRecord(what: "index record", detail: "\(error)")
        }
    }

    static func encoded(_ entry: IndexedKey) -> [UInt8] {
        var out: [UInt8] = [indexedFormat]
        out.reserveCapacity(16 + entry.pubsubTopic.utf8.count + entry.contentTopic.utf8.count)
        out.appendBigEndian(entry.key.timestamp)
        for topic in [entry.pubsubTopic, entry.contentTopic] {
            VarInt.encode(UInt64(topic.utf8.count), into: &out)
            out.append(contentsOf: topic.utf8)
        }
        return out
    }

    var pubsubTopic: String {
        switch self {
        case .message(let message): message.pubsubTopic
        case .indexed(_, let pubsubTopic, _): pubsubTopic
        }
    }

    var contentTopic: String {
        switch self {
        case .message(let message): message.contentTopic
        case .indexed(_, _, let contentTopic): contentTopic
        }
    }

    /// The timestamp of the record's key.
    var timestamp: UInt64 {
        switch self {
        case .message(let message): UInt64(bitPattern: message.timestamp)
        case .indexed(let timestamp, _, _): timestamp
        }
    }
}
