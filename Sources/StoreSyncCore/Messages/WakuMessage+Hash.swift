extension WakuMessage {
    /// The deterministic message hash of 14/WAKU2-MESSAGE:
    /// `sha256(pubsub_topic || payload || content_topic || meta || timestamp as 8-byte big-endian)`.
    public func hash(using hasher: SHA256Hasher) -> MessageHash {
        hasher.begin()
        hasher.update(pubsubTopic)
        hasher.update(payload)
        hasher.update(contentTopic)
        if let meta { hasher.update(meta) }
        withUnsafeBytes(of: timestamp.bigEndian) { hasher.update($0) }
        return hasher.finish()
    }

    /// The deterministic message hash, on a fresh hasher (prefer `hash(using:)` in loops).
    public var hash: MessageHash { hash(using: SHA256Hasher()) }

    /// The sync key of the message; throws for a negative timestamp, which no key can hold.
    public func syncKey(using hasher: SHA256Hasher) throws(MessageError) -> SyncKey {
        guard timestamp >= 0 else { throw .negativeTimestamp(timestamp) }
        return SyncKey(timestamp: UInt64(timestamp), hash: hash(using: hasher))
    }
}
