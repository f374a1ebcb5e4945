extension SyncKey {
    /// The smallest key above this one: the exclusive end of a range that ends with this key.
    public var successor: SyncKey {
        var bytes = hash.bytes
        for index in bytes.indices.reversed() {
            if bytes[index] < 0xFF {
                bytes[index] += 1
                return SyncKey(timestamp: timestamp, hash: MessageHash(bytes: bytes) ?? hash)
            }
            bytes[index] = 0
        }
        return SyncKey(timestamp: timestamp &+ 1)
    }
}
