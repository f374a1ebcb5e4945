import StoreSyncCore

extension MessageStore {
    /// A source of snapshots of one key index, one per call.
    public struct Snapshots: SnapshotSource {
        let store: MessageStore
        let kind: Kind

        enum Kind {
            case pubsubTopic(String)
            case keyIndex(String)
        }

        public func withSnapshot<T>(_ body: (any ReconciliationStorage) throws -> T) throws -> T {
            switch kind {
            case .pubsubTopic(let topic): try store.withSnapshot(pubsubTopic: topic) { try body($0) }
            case .keyIndex(let name): try store.withKeyIndexSnapshot(index: name) { try body($0) }
            }
        }
    }

    /// Snapshots of a pubsub topic's key index, for a reconciliation session.
    public func snapshots(pubsubTopic: String) -> Snapshots {
        Snapshots(store: self, kind: .pubsubTopic(pubsubTopic))
    }

    /// Snapshots of a key-only index.
    public func snapshots(keyIndex name: String) -> Snapshots {
        Snapshots(store: self, kind: .keyIndex(name))
    }
}
