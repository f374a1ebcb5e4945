/// The topics a store-sync session covers: a key is in scope when its pubsub topic is one of
/// `pubsubTopics` and its content topic one of `contentTopics`; an empty list admits any.
public struct SyncScope: Hashable, Sendable {
    public var pubsubTopics: [String]
    public var contentTopics: [String]

    public init(pubsubTopics: [String] = [], contentTopics: [String] = []) {
        self.pubsubTopics = pubsubTopics
        self.contentTopics = contentTopics
    }

    /// Whether a key of these topics is in scope.
    public func admits(pubsubTopic: String, contentTopic: String) -> Bool {
        (pubsubTopics.isEmpty || pubsubTopics.contains(pubsubTopic))
            && (contentTopics.isEmpty || contentTopics.contains(contentTopic))
    }

    /// The scope of a session between this side (`own`) and a peer that asked for `asked`: the
    /// intersection of each list, as the reference node narrows it; nil when a list of each side
    /// is non-empty and they share nothing, which ends the session.
    public static func narrowed(own: SyncScope, asked: SyncScope) -> SyncScope? {
        func narrow(_ own: [String], _ asked: [String]) -> [String]? {
            guard !own.isEmpty else { return asked }
            guard !asked.isEmpty else { return own }
            let shared = own.filter(asked.contains)
            return shared.isEmpty ? nil : shared
        }
        guard let pubsub = narrow(own.pubsubTopics, asked.pubsubTopics),
            let content = narrow(own.contentTopics, asked.contentTopics)
        else { return nil }
        return SyncScope(pubsubTopics: pubsub, contentTopics: content)
    }
}
