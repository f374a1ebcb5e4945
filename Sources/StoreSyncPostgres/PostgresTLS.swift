import Glibc
import NIOSSL
import PostgresNIO

/// How connections to PostgreSQL use TLS: the `sslmode`, `sslrootcert`, `sslcert` and `sslkey`
/// parameters of the archive URL, with libpq's meanings, so that an operator's usual URL means
/// here what it means to `psql`.
public struct PostgresTLS: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS if the server offers it, plain otherwise; the certificate is not checked
        /// (libpq's default).
        case prefer
        /// TLS or no connection; the certificate is not checked.
        case require
        /// TLS with a certificate that chains to the root certificates.
        case verifyCA = "verify-ca"
        /// As `verifyCA`, and the certificate must name the host the URL names.
        case verifyFull = "verify-full"
    }

    public var mode: Mode
    /// PEM root certificates the server's certificate must chain to; the system's when nil.
    public var rootCertificates: String?
    /// A PEM certificate (chain) to show the server, for servers that ask for one.
    public var clientCertificate: String?
    /// The PEM private key of `clientCertificate`.
    public var clientKey: String?

    public init(
        mode: Mode, rootCertificates: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil
    ) {
        self.mode = mode
        self.rootCertificates = rootCertificates
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }

    /// The URL parameters this reads.
    static let parameters = ["sslmode", "sslrootcert", "sslcert", "sslkey"]

    /// The settings an archive URL asks for, for a connection to `host`: `sslmode` (disable,
    /// allow, prefer, require, verify-ca, verify-full; prefer when absent; require with
    /// `sslrootcert` is verify-ca, as in libpq), `sslrootcert`, and `sslcert` with `sslkey`.
    static func parse(_ parameters: [String: String], host: String) throws(PostgresTLSError) -> Self {
        let roots = parameters["sslrootcert"]
        let mode: Mode
        switch parameters["sslmode"] ?? "prefer" {
        // libpq's allow tries plain TCP first; a server that takes both ends up plain either way.
        case "allow": mode = .prefer
        case "require" where roots != nil: mode = .verifyCA
        case let name:
            guard let known = Mode(rawValue: name) else {
                throw PostgresTLSError(
                    "sslmode=\(name) is not one of disable, allow, prefer, require, verify-ca, verify-full")
            }
            mode = known
        }
        if mode == .verifyFull && host.isIPAddress {
            throw PostgresTLSError(
                "sslmode=verify-full checks the name in the server's certificate: give the host by name, or use verify-ca"
            )
        }
        let (certificate, key) = (parameters["sslcert"], parameters["sslkey"])
        guard (certificate == nil) == (key == nil) else {
            throw PostgresTLSError("sslcert and sslkey go together: a client certificate needs its key")
        }
        if certificate != nil && mode == .disable {
            throw PostgresTLSError("sslcert with sslmode=disable: a client certificate needs TLS")
        }
        return PostgresTLS(mode: mode, rootCertificates: roots, clientCertificate: certificate, clientKey: key)
    }

    /// The TLS settings for NIOSSL; nil for `disable`.
    func configuration() throws(PostgresTLSError) -> TLSConfiguration? {
        guard mode != .disable else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable, .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if mode == .verifyCA || mode == .verifyFull, let rootCertificates {
            configuration.trustRoots = .certificates(try Self.certificates(rootCertificates, "sslrootcert"))
        }
        if let clientCertificate, let clientKey {
            configuration.certificateChain = try Self.certificates(clientCertificate, "sslcert").map {
                .certificate($0)
            }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientKey, format: .pem))
            } catch {
                throw PostgresTLSError("sslkey \(clientKey) cannot be read as a PEM private key: \(error)")
            }
        }
        return configuration
    }

    private static func certificates(_ path: String, _ parameter: String) throws(PostgresTLSError)
        -> [NIOSSLCertificate]
    {
        do {
            return try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw PostgresTLSError("\(parameter) \(path) cannot be read as PEM certificates: \(error)")
        }
    }

    /// The pool's TLS settings.
    func clientTLS() throws(PostgresTLSError) -> PostgresClient.Configuration.TLS {
        guard let configuration = try configuration() else { return .disable }
        return mode == .prefer ? .prefer(configuration) : .require(configuration)
    }

    /// One connection's TLS settings.
    func connectionTLS() throws(PostgresTLSError) -> PostgresConnection.Configuration.TLS {
        guard let configuration = try configuration() else { return .disable }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw PostgresTLSError("TLS settings refused: \(error)")
        }
        return mode == .prefer ? .prefer(context) : .require(context)
    }
}

/// Why the TLS settings of an archive URL cannot be used.
struct PostgresTLSError: Error {
    let reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}

extension String {
    /// Whether this is an IPv4 or IPv6 address rather than a name.
    fileprivate var isIPAddress: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
