import Crypto
import NIOCore
import StoreSyncCore
import Testing

@testable import StoreSyncP2P

/// The libp2p layer's pieces without a network: keys and PeerIds against vectors made with
/// py-libp2p, the Noise handshake between two in-memory sides, the muxers' rules and bounds.
@Suite("libp2p codecs and state machines")
struct P2PCodecTests {
    static func hex(_ text: String) -> [UInt8] {
        PyLibp2pPeer.bytes(text)
    }

    @Test func identitiesMatchPyLibp2p() throws {
        // py-libp2p: ed25519.create_new_key_pair(bytes(range(32))), secp256k1 with secret 0x01 * 32.
        var writer = ProtobufWriter()
        writer.varint(1, 1)
        writer.bytes(2, Array(0..<32))
        let ed = try PrivateKey(protobuf: writer.bytes)
        #expect(ed.peerID.description == "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB")
        #expect(
            ed.publicKey.protobuf
                == Self.hex("0801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"))
        let edSignature = Self.hex(
            "e1a7fca94a835127885b99e2eba733d6ee5bf5dc463ed8385eb6f1dcaa1117c0f151750a10f46f5b3796a91203578f702c85c67c334b5689a516284d499f710f"
        )
        #expect(try ed.sign(Array("hello".utf8)) == edSignature)

        let secp = try PrivateKey(secp256k1: [UInt8](repeating: 1, count: 32))
        #expect(secp.peerID.description == "16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi")
        #expect(
            secp.publicKey.protobuf
                == Self.hex("08021221031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f"))
        let secpSignature = Self.hex(
            "3045022100d13b19c8baa53851839efe1fe790b6f6d51028400902bb79d2fa50c65295e0ed0220697d0a44907237350d71ab31d6adbc973749cf2c2d1f4096b765c65be58cfca9"
        )
        #expect(secp.publicKey.verify(secpSignature, message: Array("hello".utf8)))
        #expect(!secp.publicKey.verify(secpSignature, message: Array("hellO".utf8)))
        #expect(try secp.sign(Array("hello".utf8)) == secpSignature)

        // Keys survive their protobuf, and PeerIds their text.
        for key in [ed, secp] {
            let again = try PrivateKey(protobuf: key.protobuf)
            #expect(again.peerID == key.peerID)
            #expect(try PeerID(key.peerID.description) == key.peerID)
            #expect(try PublicKey(protobuf: key.publicKey.protobuf) == key.publicKey)
        }
    }

    @Test func keysFromPeersAreChecked() throws {
        var rsa = ProtobufWriter()
        rsa.varint(1, 0)
        rsa.bytes(2, [1, 2, 3])
        #expect(throws: P2PError.self) { try PublicKey(protobuf: rsa.bytes) }
        var shortEd = ProtobufWriter()
        shortEd.varint(1, 1)
        shortEd.bytes(2, [UInt8](repeating: 7, count: 31))
        #expect(throws: P2PError.self) { try PublicKey(protobuf: shortEd.bytes) }
        var offCurve = ProtobufWriter()
        offCurve.varint(1, 2)
        offCurve.bytes(2, [0x02] + [UInt8](repeating: 0xFF, count: 32))
        #expect(throws: P2PError.self) { try PublicKey(protobuf: offCurve.bytes) }
        #expect(throws: P2PError.self) { try PeerID("0OIl") }
        #expect(throws: P2PError.self) { try PeerID(multihash: [0x00, 5, 1, 2]) }
    }

    @Test func multiaddrsRoundTrip() throws {
        let peer = try PrivateKey(secp256k1: [UInt8](repeating: 1, count: 32)).peerID
        for text in [
            "/ip4/127.0.0.1/tcp/60000/p2p/\(peer)", "/ip6/::1/tcp/1", "/dns4/node.example/tcp/30303/p2p/\(peer)",
        ] {
            let address = try Multiaddr(text)
            #expect(address.description == text)
            #expect(try Multiaddr(binary: address.binary) == address)
        }
        #expect(try Multiaddr("/ip4/10.0.0.1/tcp/9000").hostAndPort?.port == 9000)
        #expect(throws: P2PError.self) { try Multiaddr("/ip4/300.0.0.1/tcp/1") }
        #expect(throws: P2PError.self) { try Multiaddr("/udp/1") }
        #expect(throws: P2PError.self) { try Multiaddr(binary: [4, 127, 0]) }
    }

    @Test func noiseHandshakeAuthenticatesBothSides() throws {
        let alice = try PrivateKey.generate(.ed25519)
        let bob = try PrivateKey.generate(.secp256k1)
        var initiator = NoiseHandshake(role: .initiator, identity: alice)
        var responder = NoiseHandshake(role: .responder, identity: bob)
        let first = try initiator.initiate()
        #expect(first.count == 32)
        let secondReply = try responder.receive(first)
        let second = try #require(secondReply)
        let thirdReply = try initiator.receive(second)
        let third = try #require(thirdReply)
        #expect(try responder.receive(third) == nil)
        var aliceSide = try initiator.result()
        var bobSide = try responder.result()
        #expect(aliceSide.remotePeer == bob.peerID)
        #expect(bobSide.remotePeer == alice.peerID)
        let sealed = try aliceSide.sender.encrypt(Array("ping".utf8), associatedData: [])
        #expect(try bobSide.receiver.decrypt(sealed, associatedData: []) == Array("ping".utf8))
        // A replayed message fails: the nonce has moved on.
        #expect(throws: P2PError.self) { try bobSide.receiver.decrypt(sealed, associatedData: []) }
    }

    @Test func aTamperedOrForgedHandshakeFails() throws {
        let alice = try PrivateKey.generate(.ed25519)
        let bob = try PrivateKey.generate(.ed25519)
        var initiator = NoiseHandshake(role: .initiator, identity: alice)
        var responder = NoiseHandshake(role: .responder, identity: bob)
        let reply = try responder.receive(try initiator.initiate())
        var second = try #require(reply)
        second[second.count - 1] ^= 1
        #expect(throws: P2PError.self) { try initiator.receive(second) }

        // A payload whose signature is over another static key.
        let payload = try NoisePayload.signed(by: alice, staticKey: [UInt8](repeating: 9, count: 32))
        #expect(throws: P2PError.self) { try payload.verifiedKey(staticKey: [UInt8](repeating: 8, count: 32)) }
        #expect(try payload.verifiedKey(staticKey: [UInt8](repeating: 9, count: 32)) == alice.publicKey)
        // Unknown fields (extensions) are skipped.
        var extended = ProtobufWriter()
        extended.bytes(1, payload.identityKey)
        extended.bytes(2, payload.signature)
        extended.bytes(4, [0x0A, 0x01, 0x41])
        #expect(try NoisePayload(decoding: extended.bytes) == payload)
    }

    @Test func multistreamBoundsItsMessages() throws {
        var buffer = Multistream.encode("/noise")
        #expect(try Multistream.decode(&buffer) == "/noise")
        var long = ByteBuffer()
        UVarint.write(UInt64(Multistream.maximumMessage + 1), to: &long)
        #expect(throws: P2PError.self) { try Multistream.decode(&long) }
        var noNewline = ByteBuffer()
        UVarint.write(3, to: &noNewline)
        noNewline.writeString("abc")
        #expect(throws: P2PError.self) { try Multistream.decode(&noNewline) }
        var partial = Multistream.encode("/yamux/1.0.0")
        partial.moveWriterIndex(to: partial.writerIndex - 1)
        #expect(try Multistream.decode(&partial) == nil)
    }

    @Test func yamuxGrantsAndEnforcesWindows() throws {
        var dialer = YamuxSession(role: .dialer, limits: MuxerLimits(maximumStreams: 2))
        var listener = YamuxSession(role: .listener, limits: MuxerLimits(maximumStreams: 2))
        var events: [MuxerEvent] = []
        var (key, syn) = try dialer.open()
        #expect(key.id == 1)
        try listener.receive(&syn, into: &events)
        let remote = StreamKey(id: 1, local: false)
        #expect(events.first == .opened(remote))

        // The dialer may send one window, and no more.
        #expect(dialer.sendable(key) == YamuxSession.maximumFrame)
        var sent = 0
        events = []
        while dialer.sendable(key) > 0 {
            var frame = dialer.frame(ByteBuffer(repeating: 1, count: dialer.sendable(key)), on: key)
            sent += frame.readableBytes - YamuxHeader.size
            try listener.receive(&frame, into: &events)
        }
        #expect(sent == YamuxSession.initialWindow)
        // The listener's application reads half a window: that is granted back.
        #expect(listener.consumed(YamuxSession.initialWindow / 2 - 1, on: remote) == nil)
        let granted = listener.consumed(1, on: remote)
        var update = try #require(granted)
        events = []
        try dialer.receive(&update, into: &events)
        #expect(events == [.windowOpened(key)])
        #expect(dialer.sendable(key) == YamuxSession.maximumFrame)

        // A peer that ignores the window loses the connection.
        var flood = YamuxHeader.frame(
            .init(kind: .data, flags: [], streamID: 1, length: UInt32(YamuxSession.initialWindow / 2 + 1)),
            payload: ByteBuffer(repeating: 0, count: YamuxSession.initialWindow / 2 + 1))
        #expect(throws: P2PError.self) { try listener.receive(&flood, into: &events) }
    }

    @Test func yamuxRefusesStreamsOverItsBoundAndAnswersPings() throws {
        var listener = YamuxSession(role: .listener, limits: MuxerLimits(maximumStreams: 1))
        var events: [MuxerEvent] = []
        for id: UInt32 in [1, 3] {
            var syn = YamuxHeader.frame(.init(kind: .windowUpdate, flags: .syn, streamID: id, length: 0))
            try listener.receive(&syn, into: &events)
        }
        #expect(events.filter { if case .opened = $0 { true } else { false } }.count == 1)
        let refusal = YamuxHeader.frame(.init(kind: .windowUpdate, flags: .rst, streamID: 3, length: 0))
        #expect(events.last == .send(refusal))
        // A stream of this side's numbering opened by the peer, and a frame for a stream never
        // opened, are faults.
        var wrongParity = YamuxHeader.frame(.init(kind: .windowUpdate, flags: .syn, streamID: 2, length: 0))
        #expect(throws: P2PError.self) { try listener.receive(&wrongParity, into: &events) }
        var unknown = YamuxHeader.frame(.init(kind: .data, flags: [], streamID: 99, length: 0))
        #expect(throws: P2PError.self) { try listener.receive(&unknown, into: &events) }

        events = []
        var ping = YamuxHeader.frame(.init(kind: .ping, flags: .syn, streamID: 0, length: 77))
        try listener.receive(&ping, into: &events)
        #expect(events == [.send(YamuxHeader.frame(.init(kind: .ping, flags: .ack, streamID: 0, length: 77)))])
    }

    @Test func mplexNumbersStreamsPerSideAndBoundsMessages() throws {
        var dialer = MplexSession(role: .dialer, limits: MuxerLimits())
        var listener = MplexSession(role: .listener, limits: MuxerLimits(maximumMplexMessage: 1 << 20))
        var events: [MuxerEvent] = []
        var (key, open) = try dialer.open()
        try listener.receive(&open, into: &events)
        let remote = StreamKey(id: key.id, local: false)
        #expect(events == [.opened(remote)])
        events = []
        var data = dialer.frame(ByteBuffer(string: "hello"), on: key)
        try listener.receive(&data, into: &events)
        #expect(events == [.data(remote, ByteBuffer(string: "hello"))])
        // The listener's reply carries the receiver flag and reaches the dialer's own stream.
        var reply = listener.frame(ByteBuffer(string: "hi"), on: remote)
        events = []
        try dialer.receive(&reply, into: &events)
        #expect(events == [.data(key, ByteBuffer(string: "hi"))])
        let fin = dialer.closeWrite(key)
        var close = try #require(fin)
        events = []
        try listener.receive(&close, into: &events)
        #expect(events == [.remoteClosed(remote)])

        var huge = ByteBuffer()
        UVarint.write(key.id << 3 | 2, to: &huge)
        UVarint.write(UInt64(1 << 20) + 1, to: &huge)
        #expect(throws: P2PError.self) { try listener.receive(&huge, into: &events) }
    }

    @Test func yamuxPairsDeliverEveryByteInOrderUnderRandomChunking() throws {
        var rng = SplitMix64(seed: 77)
        for _ in 0..<20 {
            var dialer = YamuxSession(role: .dialer, limits: MuxerLimits())
            var listener = YamuxSession(role: .listener, limits: MuxerLimits())
            var wire = ByteBuffer()
            var (key, syn) = try dialer.open()
            wire.writeBuffer(&syn)
            let payload = (0..<Int(rng.next() % 600_000)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var offset = 0
            var received: [UInt8] = []
            var inbox = ByteBuffer()
            var events: [MuxerEvent] = []
            var updates = ByteBuffer()
            while received.count < payload.count {
                // The dialer sends what its window allows.
                while offset < payload.count, dialer.sendable(key) > 0 {
                    let count = min(dialer.sendable(key), payload.count - offset, Int(1 + rng.next() % 70_000))
                    var frame = dialer.frame(ByteBuffer(bytes: payload[offset..<offset + count]), on: key)
                    wire.writeBuffer(&frame)
                    offset += count
                }
                // The wire delivers in random pieces.
                while wire.readableBytes > 0 {
                    var piece = wire.readSlice(length: Int(1 + rng.next() % UInt64(wire.readableBytes)))!
                    inbox.writeBuffer(&piece)
                    try listener.receive(&inbox, into: &events)
                }
                for case .data(let stream, let bytes) in events {
                    received += Array(bytes.readableBytesView)
                    if var update = listener.consumed(bytes.readableBytes, on: stream) { updates.writeBuffer(&update) }
                }
                events = []
                var granted: [MuxerEvent] = []
                try dialer.receive(&updates, into: &granted)
                #expect(inbox.readableBytes < YamuxHeader.size + YamuxSession.initialWindow)
            }
            #expect(received == payload)
        }
    }
}
