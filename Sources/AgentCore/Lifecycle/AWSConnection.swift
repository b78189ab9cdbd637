import Dispatch
import Synchronization

/// Everything the agent needs to call AWS, built once at start-up from the settings: the region,
/// the HTTP clients, the credential chain (with `ROLE_ARN` on top) and the AppConfig Data client.
struct AWSConnection {
    let region: String
    let client: CurlHTTPClient
    let credentials: any CredentialsProviding
    let dataClient: AppConfigDataClient
    let endpoints: AWSEndpoints

    static func make(settings: AgentSettings, environment: [String: String]) throws(AgentStartError) -> AWSConnection {
        let client: CurlHTTPClient
        let metadata: CurlHTTPClient
        do {
            client = try CurlHTTPClient(configuration: HTTPClientConfiguration(
                maxConnections: settings.maxConnections, requestTimeout: settings.requestTimeout,
                connectTimeout: settings.requestTimeout, caBundle: settings.caBundle, proxyURL: settings.proxyURL,
                proxyHeaders: settings.proxyHeaders.map { HTTPHeader(name: $0.name, value: $0.value) }))
            metadata = try CredentialsChain.makeMetadataClient(caBundle: settings.caBundle)
        } catch {
            throw AgentStartError(message: "cannot set up the HTTP client for AWS: \(error)")
        }
        let region = try detectRegion(settings: settings, environment: environment, metadata: metadata)
        let endpoints = AWSEndpoints(settings: settings, region: region)
        var credentials: any CredentialsProviding = CredentialsChain(
            environment: environment, region: region, stsEndpoint: endpoints.sts, client: client, metadataClient: metadata)
        if let roleArn = settings.roleArn {
            do {
                credentials = try AssumeRoleCredentialsProvider(
                    base: credentials, roleArn: roleArn, externalId: settings.roleExternalId,
                    sessionName: settings.roleSessionName, stsEndpoint: endpoints.sts, region: region, client: client)
            } catch {
                throw AgentStartError(message: "ROLE_ARN \(roleArn): \(error)")
            }
        }
        let dataClient: AppConfigDataClient
        do {
            dataClient = try AppConfigDataClient(endpoint: endpoints.appConfigData, region: region,
                                                 credentials: credentials, http: client)
        } catch {
            throw AgentStartError(message: "AWS AppConfig Data endpoint: \(error)")
        }
        log.info("AWS region \(region); AppConfig Data at \(endpoints.appConfigData)")
        return AWSConnection(region: region, client: client, credentials: credentials, dataClient: dataClient, endpoints: endpoints)
    }

    /// SERVICE_REGION, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, then IMDS; none: a start-up error.
    private static func detectRegion(settings: AgentSettings, environment: [String: String],
                                     metadata: CurlHTTPClient) throws(AgentStartError) -> String {
        let result = Mutex<Result<RegionDetector.Detected?, CredentialsError>>(.success(nil))
        let done = DispatchSemaphore(value: 0)
        Task {
            do throws(CredentialsError) {
                let detected = try await RegionDetector.detect(configured: settings.serviceRegion, environment: environment,
                                                               metadataClient: metadata)
                result.withLock { $0 = .success(detected) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        switch result.withLock({ $0 }) {
        case .success(let detected?):
            return detected.region
        case .success(nil):
            throw AgentStartError(message: "no AWS region found: set SERVICE_REGION (or AWS_REGION), a region in the AWS profile, or run where instance metadata is reachable")
        case .failure(let error):
            throw AgentStartError(message: "cannot detect the AWS region: \(error)")
        }
    }
}
