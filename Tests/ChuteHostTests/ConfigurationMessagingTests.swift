import ChuteCore
import ChuteHost
import Testing

/// Topics, event buses and HTTP delivery in the configuration file: what is read, and every
/// mistake reported with its line and path.
@Suite struct ConfigurationMessagingTests {
    @Test func topicsBusesAndHTTPDeliveryAreRead() throws {
        let text = """
            functions: []
            topics:
              - name: alerts
                subscriptions:
                  - {protocol: sqs, endpoint: copy, rawMessageDelivery: true, filterPolicy: {severity: [high]}}
                  - {protocol: lambda, endpoint: audit}
                  - protocol: https
                    endpoint: https://hooks.example.test/in
                    filterPolicy: '{"kind":[{"prefix":"order-"}]}'
                    filterPolicyScope: MessageBody
            eventBuses:
              - name: results
                rules:
                  - name: failures
                    eventPattern: {source: [lambda], detail: {responseContext: {functionError: [{exists: true}]}}}
                    targets: [failures, "http://127.0.0.1:9000/hook", {id: topic, arn: "arn:aws:sns:us-east-1:000000000000:alerts"}]
                  - {name: off, eventPattern: '{"source":["x"]}', enabled: false}
            httpDelivery: {maximumAttempts: 3, initialDelaySeconds: 0.25, timeoutSeconds: 5, perEndpointConcurrency: 2}
            """
        let file = try ConfigurationFile.parse(text, path: "chute.yaml")
        let topic = try #require(file.topics.first)
        #expect(topic.name == "alerts")
        #expect(topic.subscriptions.map(\.endpoint) == ["arn:aws:sqs:us-east-1:000000000000:copy",
                                                      "arn:aws:lambda:us-east-1:000000000000:function:audit",
                                                      "https://hooks.example.test/in"])
        #expect(topic.subscriptions[0].rawMessageDelivery)
        #expect(topic.subscriptions[0].filterPolicy == #"{"severity":["high"]}"#)
        #expect(topic.subscriptions[2].filterPolicyScope == .messageBody)
        let rules = try #require(file.eventBuses.first?.rules)
        #expect(rules.map(\.name) == ["failures", "off"])
        #expect(rules[0].targets.map(\.arn) == ["arn:aws:sqs:us-east-1:000000000000:failures", "http://127.0.0.1:9000/hook",
                                                "arn:aws:sns:us-east-1:000000000000:alerts"])
        #expect(rules[0].targets.map(\.id) == ["1", "2", "topic"])
        #expect(try EventPattern(rules[0].eventPattern).matches(json: Array(#"{"source":"lambda","detail":{"responseContext":{"functionError":"Unhandled"}}}"#.utf8)))
        #expect(!rules[1].enabled)
        #expect(file.httpDelivery == HTTPDeliveryPolicy(maximumAttempts: 3, initialDelayMilliseconds: 250, timeoutMilliseconds: 5_000,
                                                        perEndpointConcurrency: 2))
    }

    @Test func everyMessagingMistakeIsReportedWithItsLineAndPath() throws {
        let text = """
            functions: []
            topics:
              - name: "bad topic"
              - name: alerts
                subscriptions:
                  - {protocol: email, endpoint: me@example.test}
                  - {protocol: http, endpoint: "https://wrong.scheme/"}
                  - {protocol: sqs, endpoint: q, filterPolicy: {size: [{numeric: [">"]}]}}
            eventBuses:
              - name: results
                rules:
                  - {name: r, eventPattern: {source: []}, targets: ["ftp://x"]}
            httpDelivery: {maximumAttempts: 0, colour: red}
            """
        let error = try #require(throws: ConfigurationFileError.self) { try ConfigurationFile.parse(text, path: "chute.yaml") }
        let expected = [
            "line 3: topics[0].name: 'bad topic' must be",
            "line 6: topics[1].subscriptions[0].protocol: 'email' is not one of sqs, lambda, http, https",
            "line 7: topics[1].subscriptions[1].endpoint: 'https://wrong.scheme/' does not fit protocol http",
            "line 8: topics[1].subscriptions[2].filterPolicy:",
            "line 12: eventBuses[0].rules[0].eventPattern:",
            "line 12: eventBuses[0].rules[0].targets[0]:",
            "line 13: httpDelivery.colour: unknown field",
            "line 13: httpDelivery.maximumAttempts: must be a whole number from 1 to 100",
        ]
        for line in expected {
            #expect(error.problems.contains { $0.hasPrefix(line) }, "missing: \(line)\nin: \(error.problems)")
        }
    }

    @Test func httpRetryDelaysDoubleUpToTheirLimitAndRunOut() {
        let policy = HTTPDeliveryPolicy(maximumAttempts: 6, initialDelayMilliseconds: 1_000, maximumDelayMilliseconds: 5_000)
        #expect((1...6).map { policy.delay(afterFailedAttempts: $0) } == [1_000, 2_000, 4_000, 5_000, 5_000, nil])
        #expect(HTTPDeliveryPolicy(maximumAttempts: 100, maximumDelayMilliseconds: 300_000).delay(afterFailedAttempts: 90) == 300_000)
    }
}
