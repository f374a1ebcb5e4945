/// A message's key with its topics: what the store-sync engine's storages scope by, and what a
/// key index kept beside another archive holds of a message (the message lives in the archive).
public struct IndexedKey: Hashable, Sendable {
    public var key: SyncKey
    public var pubsubTopic: String
    public var contentTopic: String

    public init(key: SyncKey, pubsubTopic: String, contentTopic: String) {
        self.key = key
        self.pubsubTopic = pubsubTopic
        self.contentTopic = contentTopic
    }
}
