import StoreSyncCore

/// One demo node's archive: messages by hash, and the sorted key index reconciliation reads.
struct DemoArchive {
    let name: String
    private(set) var messages: [MessageHash: WakuMessage] = [:]
    private(set) var index = SortedKeyStorage([])
    private var keys: [SyncKey] = []
    /// Messages refused because they did not hash to the key they were sent for.
    private(set) var rejected = 0

    init(name: String) {
        self.name = name
    }

    /// Stores a message under its own key; returns false for one already present.
    @discardableResult
    mutating func ingest(_ message: WakuMessage, hasher: SHA256Hasher) throws -> Bool {
        let key = try message.syncKey(using: hasher)
        guard messages[key.hash] == nil else { return false }
        messages[key.hash] = message
        keys.append(key)
        return true
    }

    /// Stores a message received for `hash` only if it really hashes to it.
    mutating func accept(_ message: WakuMessage, sentFor hash: MessageHash, hasher: SHA256Hasher) throws {
        guard message.hash(using: hasher) == hash else {
            rejected += 1
            return
        }
        try ingest(message, hasher: hasher)
    }

    /// Rebuilds the key index after ingest.
    mutating func seal() {
        index = SortedKeyStorage(keys)
        keys = index.keys
    }
}
