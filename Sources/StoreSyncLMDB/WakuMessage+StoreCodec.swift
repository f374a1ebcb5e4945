import StoreSyncCore

/// The archive's encoding of a message (the value under its hash in the `messages` database):
/// format byte 1, flags (bit 0 ephemeral, bit 1 meta present), version (UInt32 BE), timestamp
/// (Int64 BE), then pubsub topic, content topic, meta (if present) and payload, each as a varint
/// length and its bytes.
extension WakuMessage {
    static let storeFormat: UInt8 = 1

    func storeEncoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32 + pubsubTopic.utf8.count + contentTopic.utf8.count + payload.count + (meta?.count ?? 0))
        out.append(Self.storeFormat)
        out.append((ephemeral ? 1 : 0) | (meta == nil ? 0 : 2))
        out.appendBigEndian(version)
        out.appendBigEndian(UInt64(bitPattern: timestamp))
        func field(_ bytes: some Collection<UInt8>) {
            VarInt.encode(UInt64(bytes.count), into: &out)
            out.append(contentsOf: bytes)
        }
        field(pubsubTopic.utf8)
        field(contentTopic.utf8)
        if let meta { field(meta) }
        field(payload)
        return out
    }

    init(storeEncoded raw: UnsafeRawBufferPointer) throws(StoreError) {
        var reader = ByteReader(Array(raw))
        do {
            let format = try reader.readByte("format")
            guard format == Self.storeFormat else {
                throw StoreError.corruptRecord(what: "message", detail: "unknown format \(format)")
            }
            let flags = try reader.readByte("flags")
            let head = try reader.readBytes(12, "version and timestamp")
            let (version, timestamp) = Array(head).withUnsafeBytes {
                ($0.loadBigEndianUInt32(at: 0), Int64(bitPattern: $0.loadBigEndianUInt64(at: 4)))
            }
            func field(_ what: StaticString) throws -> [UInt8] {
                let length = try reader.readVarInt(what)
                guard length <= UInt64(reader.remaining) else {
                    throw WireError.truncated(what: "\(what)", offset: reader.offset)
                }
                return Array(try reader.readBytes(Int(length), what))
            }
            let pubsub = try field("pubsub topic")
            let content = try field("content topic")
            let meta = flags & 2 != 0 ? try field("meta") : nil
            let payload = try field("payload")
            try self.init(
                pubsubTopic: String(decoding: pubsub, as: UTF8.self),
                contentTopic: String(decoding: content, as: UTF8.self),
                payload: payload, meta: meta, timestamp: timestamp, ephemeral: flags & 1 != 0, version: version)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .corruptRecord(what: "message", detail: "\(error)")
        }
    }
}
