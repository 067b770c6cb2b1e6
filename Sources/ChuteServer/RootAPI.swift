import Hummingbird

/// `POST /`, which four AWS protocols share: SQS (JSON 1.0, `X-Amz-Target: AmazonSQS.*`),
/// EventBridge (JSON 1.1, `X-Amz-Target: AWSEvents.*`), Kinesis (JSON 1.1,
/// `X-Amz-Target: Kinesis_20131202.*`) and SNS (the query protocol: a form body with `Action=…`
/// and no target header).
struct RootAPI: Sendable {
    let sqs: SQSAPI
    let sns: SNSAPI
    let events: EventBridgeAPI
    let kinesis: KinesisAPI

    func register(on router: Router<BasicRequestContext>) {
        router.post("/") { request, _ in
            let target = request.headers[AWSResponse.targetHeader] ?? ""
            if target.hasPrefix("AWSEvents.") { return await events.handle(request, operation: target.dropFirst("AWSEvents.".count)) }
            if target.hasPrefix("Kinesis_20131202.") {
                return await kinesis.handle(request, operation: target.dropFirst("Kinesis_20131202.".count))
            }
            if target.isEmpty { return await sns.handle(request) }
            return await sqs.handle(request)
        }
    }
}
