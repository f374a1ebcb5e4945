/// The key of a scope's record in the `scopes` database: which kind of key index, and whose
/// (SPEC.md section 4).
enum ScopeKey {
    /// A pubsub topic's messages.
    static let messagesKind = UInt8(ascii: "m")
    /// A key-only index, kept beside another archive.
    static let keyIndexKind = UInt8(ascii: "k")
    /// The messages of one content topic within one pubsub topic.
    static let contentTopicKind = UInt8(ascii: "c")

    static func messages(_ pubsubTopic: String) -> [UInt8] {
        [messagesKind] + Array(pubsubTopic.utf8)
    }

    static func keyIndex(_ name: String) -> [UInt8] {
        [keyIndexKind] + Array(name.utf8)
    }

    /// The content topic by its id, which has a fixed length, so the pubsub topic after it needs
    /// no separator.
    static func contentTopic(_ contentTopicId: UInt32, pubsubTopic: String) -> [UInt8] {
        var key: [UInt8] = [contentTopicKind]
        key.reserveCapacity(5 + pubsubTopic.utf8.count)
        key.appendBigEndian(contentTopicId)
        key.append(contentsOf: pubsubTopic.utf8)
        return key
    }

    /// A scope key taken apart: its kind, the content topic id of a `c` scope, and the name.
    static func parse(_ key: [UInt8]) -> (kind: UInt8, contentTopicId: UInt32?, name: String)? {
        guard let kind = key.first else { return nil }
        if kind == contentTopicKind {
            guard key.count >= 5 else { return nil }
            let id = key[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return (kind, id, String(decoding: key[5...], as: UTF8.self))
        }
        return (kind, nil, String(decoding: key.dropFirst(), as: UTF8.self))
    }
}
