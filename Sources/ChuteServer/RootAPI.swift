import Hummingbird

/// `POST /`, which three AWS protocols share: SQS (JSON 1.0, `X-Amz-Target: AmazonSQS.*`),
/// EventBridge (JSON 1.1, `X-Amz-Target: AWSEvents.*`) and SNS (the query protocol: a form body
/// with `Action=…` and no target header).
struct RootAPI: Sendable {
    let sqs: SQSAPI
    let sns: SNSAPI
    let events: EventBridgeAPI

    func register(on router: Router<BasicRequestContext>) {
        router.post("/") { request, _ in
            let target = request.headers[AWSResponse.targetHeader] ?? ""
            if target.hasPrefix("AWSEvents.") { return await events.handle(request, operation: target.dropFirst("AWSEvents.".count)) }
            if target.isEmpty { return await sns.handle(request) }
            return await sqs.handle(request)
        }
    }
}
