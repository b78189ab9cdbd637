/// Where STS is for a region: always the regional endpoint (never the legacy global `sts.amazonaws.com`),
/// so role assumption keeps working when another region has trouble and stays inside a VPC endpoint's region.
public enum STSEndpoint {
    /// `override` (`AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`) wins as given; otherwise the
    /// partition's regional endpoint from `AWSEndpoints`.
    public static func url(region: String, useFIPS: Bool = false, useDualStack: Bool = false, override: String? = nil) -> String {
        if let override, !override.isEmpty { return override }
        return AWSEndpoints(region: region, useFIPS: useFIPS, useDualStack: useDualStack).sts
    }
}
