import Foundation
import FuzzSupport
import StoreSyncCore

// libFuzzer target: arbitrary bytes as a Negentropy message, fed to a responder over a fixed key
// set and to an initiator in the middle of a session; and the same bytes as a store-sync
// `RangesData` payload, decoded and fed to the store-sync engine. Beyond "no crash" it checks that
// a decoded message re-encodes canonically (for `RangesData`, where its hash-prefix rule allows:
// one re-encoding is a fixed point, and bytes that are already canonical decode back to the same
// payload) and that no id is reported as both have and need.

let fixedKeys: [SyncKey] = (0..<300).map { index in
    var seed = UInt64(index) &* 0x9E37_79B9_7F4A_7C15
    func next() -> UInt64 {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return seed
    }
    return SyncKey(
        timestamp: 1_000 + UInt64(index / 3),
        hash: MessageHash(word0: next(), word1: next(), word2: next(), word3: next())
    )
}
let responderStorage = SortedKeyStorage(fixedKeys)
let initiatorStorage = SortedKeyStorage(fixedKeys.enumerated().filter { $0.offset % 7 != 0 }.map(\.element))
let storeSyncStorage = MemoryXorStorage(
    fixedKeys.enumerated().map { index, key in
        MemoryXorStorage.Entry(key: key, pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/fuzz/1/c\(index % 3)/proto")
    })

func fuzzStoreSync(_ bytes: [UInt8]) {
    if let payload = try? RangesData(decoding: bytes) {
        let encoded = payload.encoded()
        let again = try? RangesData(decoding: encoded)
        fuzzCheck(again?.encoded() == encoded, "a re-encoded payload is a fixed point of decode and encode")
        if encoded == bytes { fuzzCheck(again == payload, "canonical bytes decode back to the same payload") }
    }
    var engine = StoreSyncReconciler(configuration: .init(itemSetThreshold: 10, maximumRounds: 4))
    if let step = try? engine.receive(bytes, storage: storeSyncStorage) {
        fuzzCheck(Set(step.have).isDisjoint(with: step.need), "no hash is both have and need")
        if let reply = step.reply, reply.count > 1 {
            fuzzCheck((try? RangesData(decoding: reply)) != nil, "the engine's reply decodes")
        }
    }
}

func fuzzOne(_ bytes: [UInt8]) {
    fuzzStoreSync(bytes)
    if case .message(let message)? = try? NegentropyMessage.decode(bytes) {
        let encoded = message.encoded()
        let again = try? NegentropyMessage.decode(encoded)
        fuzzCheck(again == .message(message), "re-encoded message decodes to the same ranges")
        fuzzCheck(message.encoded() == encoded, "encoding is deterministic")
    }
    for policy in SplitPolicy.allCases {
        if let responder = try? Reconciler(frameSizeLimit: bytes.count % 2 == 0 ? 0 : 4096, policy: policy) {
            if let reply = try? responder.respond(to: bytes, storage: responderStorage) {
                fuzzCheck(reply.first == NegentropyMessage.protocolVersion, "reply starts with the version byte")
                fuzzCheck((try? NegentropyMessage.decode(reply)) != nil, "reply decodes")
            }
        }
        // An initiator one genuine round into a session with the fixed responder set.
        if let initiator = try? Reconciler(policy: policy),
            let responder = try? Reconciler(policy: policy),
            let opening = try? initiator.initiate(initiatorStorage),
            let reply = try? responder.respond(to: opening, storage: responderStorage),
            (try? initiator.reconcile(reply, storage: initiatorStorage)) != nil,
            let step = try? initiator.reconcile(bytes, storage: initiatorStorage)
        {
            fuzzCheck(Set(step.have).isDisjoint(with: step.need), "no id is both have and need")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else {
        fuzzOne([])
        return 0
    }
    fuzzOne(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

runFuzzTarget(callback: fuzzerTestOneInput, fuzzOne: fuzzOne)
