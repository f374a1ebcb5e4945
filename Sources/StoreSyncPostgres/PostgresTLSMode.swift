import Glibc
import NIOSSL
import PostgresNIO

/// How connections to PostgreSQL use TLS: the `sslmode` and `sslrootcert` parameters of the
/// archive URL, with libpq's meanings, so that an operator's usual URL means here what it means
/// to `psql`.
public enum PostgresTLSMode: Sendable, Equatable {
    /// Plain TCP.
    case disable
    /// TLS if the server offers it, plain otherwise; the certificate is not checked (libpq's
    /// default).
    case prefer
    /// TLS or no connection; the certificate is not checked.
    case require
    /// TLS with a certificate that chains to `rootCertificates` (a PEM file; the system's roots
    /// when nil).
    case verifyCA(rootCertificates: String?)
    /// As `verifyCA`, and the certificate must name the host the URL names.
    case verifyFull(rootCertificates: String?)

    /// The mode an archive URL asks for: `sslmode` (disable, allow, prefer, require, verify-ca,
    /// verify-full; prefer when absent) and `sslrootcert`, for a connection to `host`.
    static func parse(sslmode: String?, rootCertificates: String?, host: String) throws(PostgresTLSModeError) -> Self {
        switch sslmode ?? "prefer" {
        case "disable": return .disable
        // libpq's allow tries plain TCP first; a server that takes both ends up plain either way.
        case "allow", "prefer": return .prefer
        case "require": return rootCertificates == nil ? .require : .verifyCA(rootCertificates: rootCertificates)
        case "verify-ca": return .verifyCA(rootCertificates: rootCertificates)
        case "verify-full":
            guard !host.isIPAddress else {
                throw PostgresTLSModeError(
                    "sslmode=verify-full checks the name in the server's certificate: give the host by name, or use verify-ca"
                )
            }
            return .verifyFull(rootCertificates: rootCertificates)
        case let other:
            throw PostgresTLSModeError(
                "sslmode=\(other) is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
    }

    /// The TLS settings for NIOSSL; nil for `disable`.
    func configuration() throws(PostgresTLSModeError) -> TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch self {
        case .disable: return nil
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA(let roots), .verifyFull(let roots):
            configuration.certificateVerification =
                if case .verifyFull = self { .fullVerification } else { .noHostnameVerification }
            if let roots {
                do {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(roots))
                } catch {
                    throw PostgresTLSModeError("sslrootcert \(roots) cannot be read as PEM certificates: \(error)")
                }
            }
        }
        return configuration
    }

    /// The pool's TLS settings.
    func clientTLS() throws(PostgresTLSModeError) -> PostgresClient.Configuration.TLS {
        guard let configuration = try configuration() else { return .disable }
        return self == .prefer ? .prefer(configuration) : .require(configuration)
    }

    /// One connection's TLS settings.
    func connectionTLS() throws(PostgresTLSModeError) -> PostgresConnection.Configuration.TLS {
        guard let configuration = try configuration() else { return .disable }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw PostgresTLSModeError("TLS settings refused: \(error)")
        }
        return self == .prefer ? .prefer(context) : .require(context)
    }
}

/// Why the TLS settings of an archive URL cannot be used.
struct PostgresTLSModeError: Error {
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
