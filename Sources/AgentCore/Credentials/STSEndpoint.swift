/// Where STS is for a region: always the regional endpoint (never the legacy global `sts.amazonaws.com`),
/// so role assumption keeps working when another region has trouble and stays inside a VPC endpoint's region.
public enum STSEndpoint {
    /// `override` (`AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`) wins as given. Otherwise
    /// `https://sts.{region}.amazonaws.com`, `sts-fips.` with FIPS, `.api.aws` with dual-stack, and the
    /// China partition's `.amazonaws.com.cn` (dual-stack `.api.amazonwebservices.com.cn`) for `cn-` regions.
    /// GovCloud's standard endpoints are already FIPS, so FIPS there keeps the plain host name.
    public static func url(region: String, useFIPS: Bool = false, useDualStack: Bool = false, override: String? = nil) -> String {
        if let override, !override.isEmpty { return override }
        let china = region.hasPrefix("cn-")
        let govCloud = region.hasPrefix("us-gov-")
        let service = useFIPS && !govCloud ? "sts-fips" : "sts"
        let suffix: String
        switch (china, useDualStack) {
        case (true, true): suffix = "api.amazonwebservices.com.cn"
        case (true, false): suffix = "amazonaws.com.cn"
        case (false, true): suffix = "api.aws"
        case (false, false): suffix = "amazonaws.com"
        }
        return "https://\(service).\(region).\(suffix)"
    }
}
