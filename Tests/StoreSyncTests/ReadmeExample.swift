import StoreSyncCore

/// Finds which keys each of two key sets lacks. In a node the messages cross the network; here
/// both engines run in one process.
func findDifference(mine: [SyncKey], theirs: [SyncKey]) throws -> (have: [MessageHash], need: [MessageHash]) {
    let local = SortedKeyStorage(mine)
    let remote = SortedKeyStorage(theirs)
    let initiator = try Reconciler(frameSizeLimit: 64 * 1024, policy: .adaptive)
    let responder = try Reconciler(frameSizeLimit: 64 * 1024)

    var have: [MessageHash] = []
    var need: [MessageHash] = []
    var message = try initiator.initiate(local)
    while true {
        let reply = try responder.respond(to: message, storage: remote)
        let step = try initiator.reconcile(reply, storage: local)
        have += step.have
        need += step.need
        guard let next = step.nextMessage else { return (have, need) }
        message = next
    }
}

/// A message's sync key: its timestamp and its 14/WAKU2-MESSAGE hash.
func keyOf(_ payload: String, at timestamp: Int64) throws -> SyncKey {
    let message = try WakuMessage(
        pubsubTopic: "/waku/2/rs/0/0",
        contentTopic: "/app/1/chat/proto",
        payload: Array(payload.utf8),
        timestamp: timestamp
    )
    return try message.syncKey(using: SHA256Hasher())
}
