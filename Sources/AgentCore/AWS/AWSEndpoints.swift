/// Where the agent sends its calls to AWS: the AppConfig Data and STS endpoints for a region,
/// following the SDKs' rules for partitions, FIPS, dual-stack and endpoint overrides.
public struct AWSEndpoints: Sendable, Equatable {
    public let appConfigData: String
    public let sts: String

    public init(region: String, useFIPS: Bool = false, useDualStack: Bool = false,
                endpointURL: String? = nil, appConfigDataURL: String? = nil, stsURL: String? = nil) {
        let partition = Partition(region: region)
        appConfigData = Self.trimmed(appConfigDataURL ?? endpointURL)
            ?? "https://" + partition.host(service: "appconfigdata", region: region, fips: useFIPS, dualStack: useDualStack)
        sts = Self.trimmed(stsURL ?? endpointURL)
            ?? "https://" + partition.host(service: "sts", region: region, fips: useFIPS, dualStack: useDualStack)
    }

    public init(settings: AgentSettings, region: String) {
        self.init(region: region, useFIPS: settings.useFIPSEndpoint, useDualStack: settings.useDualStackEndpoint,
                  endpointURL: settings.endpointURL, appConfigDataURL: settings.endpointURLAppConfigData,
                  stsURL: settings.endpointURLSTS)
    }

    private static func trimmed(_ url: String?) -> String? {
        guard var url else { return nil }
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// The partition a region belongs to, by its prefix, and that partition's DNS suffixes.
    struct Partition: Equatable {
        let dnsSuffix: String
        let dualStackSuffix: String

        init(region: String) {
            switch true {
            case region.hasPrefix("cn-"):
                self.init(dnsSuffix: "amazonaws.com.cn", dualStackSuffix: "api.amazonwebservices.com.cn")
            case region.hasPrefix("us-isob-"):
                self.init(dnsSuffix: "sc2s.sgov.gov", dualStackSuffix: "sc2s.sgov.gov")
            case region.hasPrefix("us-isof-"):
                self.init(dnsSuffix: "csp.hci.ic.gov", dualStackSuffix: "csp.hci.ic.gov")
            case region.hasPrefix("us-iso-"):
                self.init(dnsSuffix: "c2s.ic.gov", dualStackSuffix: "c2s.ic.gov")
            case region.hasPrefix("eu-isoe-"):
                self.init(dnsSuffix: "cloud.adc-e.uk", dualStackSuffix: "cloud.adc-e.uk")
            default:
                // aws and aws-us-gov share the suffixes.
                self.init(dnsSuffix: "amazonaws.com", dualStackSuffix: "api.aws")
            }
        }

        init(dnsSuffix: String, dualStackSuffix: String) {
            self.dnsSuffix = dnsSuffix
            self.dualStackSuffix = dualStackSuffix
        }

        func host(service: String, region: String, fips: Bool, dualStack: Bool) -> String {
            // GovCloud's standard STS endpoints are already FIPS endpoints; there is no sts-fips there.
            let fipsName = fips && !(service == "sts" && region.hasPrefix("us-gov-"))
            let name = fipsName ? "\(service)-fips" : service
            return "\(name).\(region).\(dualStack ? dualStackSuffix : dnsSuffix)"
        }
    }
}
