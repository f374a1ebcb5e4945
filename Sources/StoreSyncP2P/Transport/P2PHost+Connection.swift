import NIOCore
import StoreSyncCore

extension P2PHost {
    /// Upgrades a TCP connection (security, then muxer), announces it, and serves its streams
    /// until it closes. `established` gets the connection once it is usable, or the failure.
    func run(
        _ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, role: ConnectionRole, expected: PeerID?,
        established: @escaping @Sendable (Result<P2PConnection, any Error>) -> Void
    ) async {
        let ip = channel.channel.remoteAddress?.ipAddress ?? "unknown"
        guard admit(ip: ip) else {
            report("refused a connection from \(ip): connection limit")
            established(.failure(P2PError.limit("connection limit")))
            try? await channel.channel.close()
            return
        }
        defer { release(ip: ip, peer: nil) }
        let id = ObjectIdentifier(channel.channel)
        channels.withLock { $0[id] = channel.channel }
        defer { channels.withLock { $0[id] = nil } }
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await serve(channel.channel, inbound, outbound, role: role, expected: expected, ip: ip, established)
            }
        } catch {
            established(.failure(error))
            report("connection with \(ip) ended: \(error)")
        }
    }

    private func serve(
        _ channel: any Channel,
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        role: ConnectionRole, expected: PeerID?, ip: String,
        _ established: @escaping @Sendable (Result<P2PConnection, any Error>) -> Void
    ) async throws {
        let watchdog = Watchdog(after: configuration.handshakeTimeout, clock: clock) { channel.close(promise: nil) }
        var raw = BufferedReader(source: inbound.makeAsyncIterator())
        let write: (ByteBuffer) async throws -> Void = { try await outbound.write($0) }
        let secured: NoiseHandshake.Result
        do {
            if role == .dialer {
                _ = try await Multistream.select([NoiseChannel.protocolID], reader: &raw, write: write)
            } else {
                _ = try await Multistream.handle(
                    supported: { $0 == NoiseChannel.protocolID }, reader: &raw, write: write)
            }
            secured = try await NoiseChannel.handshake(
                role: role == .dialer ? .initiator : .responder, identity: identity, expected: expected,
                reader: &raw, write: write)
        } catch {
            watchdog.cancel()
            throw watchdog.fired ? P2PError.timeout("the security handshake") : error
        }
        var sender = secured.sender
        var secure = BufferedReader(source: SecureReader(raw: raw, cipher: secured.receiver))
        let muxer: String
        do {
            let sealedWrite: (ByteBuffer) async throws -> Void = { bytes in
                try await outbound.write(try NoiseChannel.seal(bytes, with: &sender))
            }
            if role == .dialer {
                muxer = try await Multistream.select(configuration.muxers, reader: &secure, write: sealedWrite)
            } else {
                muxer = try await Multistream.handle(
                    supported: configuration.muxers.contains, reader: &secure, write: sealedWrite)
            }
        } catch {
            watchdog.cancel()
            throw watchdog.fired ? P2PError.timeout("agreeing on a muxer") : error
        }
        watchdog.cancel()
        let peer = secured.remotePeer
        guard admit(peer: peer) else {
            throw P2PError.limit("\(configuration.maximumConnectionsPerPeer) connections with \(peer) are open")
        }
        defer { release(ip: nil, peer: peer) }
        let queue = OutboundQueue(
            highWatermark: configuration.sendHighWatermark, hardLimit: configuration.sendHardLimit)
        let core: any MuxerCore =
            muxer == YamuxSession.protocolID
            ? MuxedConnection(
                machine: YamuxSession(role: role, limits: configuration.muxerLimits), queue: queue,
                streamBufferLimit: configuration.streamBufferLimit)
            : MuxedConnection(
                machine: MplexSession(role: role, limits: configuration.muxerLimits), queue: queue,
                streamBufferLimit: configuration.streamBufferLimit)
        let info = P2PConnectionInfo(
            remotePeer: peer, remoteKey: secured.remoteKey, remoteIP: ip,
            remoteAddress: channel.remoteAddress.flatMap {
                Multiaddr.tcp(host: $0.ipAddress ?? "", port: $0.port ?? 0)
            },
            role: role, muxer: muxer)
        let connection = P2PConnection(
            info: info, core: core, channel: channel, negotiationTimeout: configuration.negotiationTimeout, clock: clock
        )
        let sendCipher = sender
        let id = ObjectIdentifier(channel)
        connections.withLock { $0[id] = connection }
        defer { connections.withLock { $0[id] = nil } }
        await withDiscardingTaskGroup { group in
            group.addTask {
                var cipher = sendCipher
                do {
                    for await plaintext in queue.frames {
                        try await outbound.write(try NoiseChannel.seal(plaintext, with: &cipher))
                        queue.sent(plaintext.readableBytes)
                    }
                } catch {
                    core.fail(.closed)
                    channel.close(promise: nil)
                }
            }
            group.addTask {
                if role == .dialer { await self.askIdentify(connection) }
                established(.success(connection))
                await self.announce(connection)
            }
            do {
                try await run(core, &secure) { key in
                    group.addTask { await self.serveStream(key, core: core, info: info) }
                }
            } catch {
                report("connection with \(peer) at \(ip) failed: \(error)")
                core.fail((error as? P2PError) ?? .closed)
                channel.close(promise: nil)
            }
            core.fail(.closed)
        }
    }

    private func run<Source>(
        _ core: any MuxerCore, _ reader: inout BufferedReader<Source>, opened: (StreamKey) -> Void
    ) async throws {
        if let yamux = core as? MuxedConnection<YamuxSession> {
            try await yamux.run(&reader, opened: opened)
        } else if let mplex = core as? MuxedConnection<MplexSession> {
            try await mplex.run(&reader, opened: opened)
        }
    }

    /// Agrees on the protocol of a stream the peer opened and hands it to its handler.
    private func serveStream(_ key: StreamKey, core: any MuxerCore, info: P2PConnectionInfo) async {
        let watchdog = Watchdog(after: configuration.negotiationTimeout, clock: clock) { core.reset(key) }
        var reader = BufferedReader(source: KeyedChunks(owner: core, key: key))
        let protocolID: String
        do {
            protocolID = try await Multistream.handle(
                supported: { self.handler(for: $0) != nil }, reader: &reader,
                write: { try await core.write($0, on: key) })
            watchdog.cancel()
        } catch {
            watchdog.cancel()
            core.release(key)
            report("stream from \(info.remotePeer) not agreed: \(watchdog.fired ? "no protocol in time" : "\(error)")")
            return
        }
        guard let handler = handler(for: protocolID) else { return }
        let stream = P2PStream(key: key, owner: core, protocolID: protocolID, connection: info, pending: reader.buffer)
        do {
            try await handler(stream)
        } catch {
            stream.reset()
            report("\(protocolID) stream from \(info.remotePeer) failed: \(error)")
        }
    }

    private func admit(ip: String) -> Bool {
        counts.withLock { counts in
            guard counts.total < configuration.maximumConnections,
                counts.perIP[ip, default: 0] < configuration.maximumConnectionsPerIP
            else { return false }
            counts.total += 1
            counts.perIP[ip, default: 0] += 1
            return true
        }
    }

    private func admit(peer: PeerID) -> Bool {
        counts.withLock { counts in
            guard counts.perPeer[peer, default: 0] < configuration.maximumConnectionsPerPeer else { return false }
            counts.perPeer[peer, default: 0] += 1
            return true
        }
    }

    private func release(ip: String?, peer: PeerID?) {
        counts.withLock { counts in
            if let ip {
                counts.total -= 1
                counts.perIP[ip, default: 1] -= 1
                if counts.perIP[ip] == 0 { counts.perIP[ip] = nil }
            }
            if let peer {
                counts.perPeer[peer, default: 1] -= 1
                if counts.perPeer[peer] == 0 { counts.perPeer[peer] = nil }
            }
        }
    }

    /// Answers identify with this host's key, addresses and protocols.
    func answerIdentify(_ stream: P2PStream) async throws {
        var message = Identify()
        message.publicKey = identity.publicKey.protobuf
        message.listenAddresses = addresses.map {
            Multiaddr($0.components.filter { if case .p2p = $0 { false } else { true } })
        }
        message.protocols = protocols
        message.observedAddress = stream.connection.remoteAddress
        message.protocolVersion = "ipfs/0.1.0"
        message.agentVersion = configuration.agentVersion
        try await stream.writePrefixed(ByteBuffer(bytes: message.encoded))
        stream.close()
    }

    /// Asks the peer's identify; a key that is not the peer's closes the connection, a refusal
    /// is fine.
    func askIdentify(_ connection: P2PConnection) async {
        do {
            let stream = try await connection.newStream([Identify.protocolID])
            defer { stream.close() }
            guard let message = try await stream.readPrefixed(limit: Identify.maximumSize, what: "identify") else {
                return
            }
            let identify = try Identify(decoding: Array(message.readableBytesView))
            if let key = identify.publicKey, (try? PublicKey(protobuf: key)).map(connection.remotePeer.matches) != true
            {
                report("identify from \(connection.remotePeer) carries another key: closing")
                connection.close()
                return
            }
            connection.identify = identify
        } catch {
            report("identify with \(connection.remotePeer): \(error)")
        }
    }
}
