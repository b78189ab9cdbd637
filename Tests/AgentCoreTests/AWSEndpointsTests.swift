import Testing
@testable import AgentCore

struct AWSEndpointsTests {
    @Test(arguments: [
        ("us-east-1", false, false, "https://appconfigdata.us-east-1.amazonaws.com", "https://sts.us-east-1.amazonaws.com"),
        ("eu-west-1", true, false, "https://appconfigdata-fips.eu-west-1.amazonaws.com", "https://sts-fips.eu-west-1.amazonaws.com"),
        ("us-west-2", false, true, "https://appconfigdata.us-west-2.api.aws", "https://sts.us-west-2.api.aws"),
        ("us-gov-west-1", true, true, "https://appconfigdata-fips.us-gov-west-1.api.aws", "https://sts.us-gov-west-1.api.aws"),
        ("cn-north-1", false, false, "https://appconfigdata.cn-north-1.amazonaws.com.cn", "https://sts.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", false, true, "https://appconfigdata.cn-northwest-1.api.amazonwebservices.com.cn", "https://sts.cn-northwest-1.api.amazonwebservices.com.cn"),
        ("us-iso-east-1", false, false, "https://appconfigdata.us-iso-east-1.c2s.ic.gov", "https://sts.us-iso-east-1.c2s.ic.gov"),
        ("us-isob-east-1", false, false, "https://appconfigdata.us-isob-east-1.sc2s.sgov.gov", "https://sts.us-isob-east-1.sc2s.sgov.gov"),
        ("eu-isoe-west-1", false, false, "https://appconfigdata.eu-isoe-west-1.cloud.adc-e.uk", "https://sts.eu-isoe-west-1.cloud.adc-e.uk"),
    ])
    func endpointForEveryPartition(region: String, fips: Bool, dualStack: Bool, appConfig: String, sts: String) {
        let endpoints = AWSEndpoints(region: region, useFIPS: fips, useDualStack: dualStack)
        #expect(endpoints.appConfigData == appConfig)
        #expect(endpoints.sts == sts)
    }

    @Test func serviceSpecificOverrideWinsOverGeneralOne() {
        let endpoints = AWSEndpoints(region: "us-east-1", endpointURL: "http://127.0.0.1:9000/",
                                     appConfigDataURL: "http://127.0.0.1:9001", stsURL: nil)
        #expect(endpoints.appConfigData == "http://127.0.0.1:9001")
        #expect(endpoints.sts == "http://127.0.0.1:9000")
    }
}
