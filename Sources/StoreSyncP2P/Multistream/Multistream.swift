import NIOCore

/// multistream-select `/multistream/1.0.0`: how two peers agree on the protocol of a connection
/// or stream. Each message is a varint length, the text and a newline; `na` refuses a proposal.
/// The dialler sends the header with its first proposal, and further proposals one at a time.
public enum Multistream {
    public static let header = "/multistream/1.0.0"
    public static let refusal = "na"
    /// The longest message accepted (with its newline), as the bound: a proposal over it
    /// ends the negotiation.
    public static let maximumMessage = 1_024
    /// Proposals a listener answers before it gives up on a dialler.
    public static let maximumProposals = 16

    /// The encoding of one message.
    public static func encode(_ text: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        UVarint.write(UInt64(text.utf8.count + 1), to: &buffer)
        buffer.writeString(text)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }

    /// Takes one message from the front of `buffer` when all of it is there.
    public static func decode(_ buffer: inout ByteBuffer) throws(P2PError) -> String? {
        guard var body = try UVarint.readPrefixed(&buffer, limit: maximumMessage, what: "multistream message") else {
            return nil
        }
        guard body.readableBytes > 0, body.getInteger(at: body.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\n"),
            let text = body.readString(length: body.readableBytes - 1), !text.contains("\n")
        else { throw .malformed("a multistream message must be one line ending in a newline") }
        return text
    }

    /// Proposes `protocols` in order as the dialler; returns the one the listener accepted.
    public static func select<Source>(
        _ protocols: [String], reader: inout BufferedReader<Source>, write: (ByteBuffer) async throws -> Void
    ) async throws -> String {
        guard let first = protocols.first else { throw P2PError.refused(protocols: []) }
        var opening = encode(header)
        var proposal = encode(first)
        opening.writeBuffer(&proposal)
        try await write(opening)
        let answer = try await reader.next(decode)
        guard answer == header else { throw P2PError.malformed("expected the multistream header, got \(answer)") }
        for (index, candidate) in protocols.enumerated() {
            if index > 0 { try await write(encode(candidate)) }
            let reply = try await reader.next(decode)
            if reply == candidate { return candidate }
            guard reply == refusal else {
                throw P2PError.malformed("proposed \(candidate), the peer answered \(reply)")
            }
        }
        throw P2PError.refused(protocols: protocols)
    }

    /// Answers a dialler's proposals as the listener; returns the first one `supported` accepts.
    public static func handle<Source>(
        supported: (String) -> Bool, reader: inout BufferedReader<Source>, write: (ByteBuffer) async throws -> Void
    ) async throws -> String {
        let opening = try await reader.next(decode)
        guard opening == header else {
            throw P2PError.malformed("expected the multistream header, got \(opening.prefix(64))")
        }
        try await write(encode(header))
        for _ in 0..<maximumProposals {
            let proposal = try await reader.next(decode)
            if proposal != refusal, proposal != header, supported(proposal) {
                try await write(encode(proposal))
                return proposal
            }
            try await write(encode(refusal))
        }
        throw P2PError.limit("no acceptable protocol in \(maximumProposals) proposals")
    }
}
