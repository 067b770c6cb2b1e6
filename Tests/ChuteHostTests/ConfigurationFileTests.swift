import ChuteCore
import ChuteHost
import ChuteTestSupport
import Testing

@Suite struct ConfigurationFileTests {
    @Test func everyInvalidFieldIsReportedWithItsLineAndPath() throws {
        let text = """
            functions:
              - name: "bad name!"
                library: ./lib.so
                timeout: 0
                memory: 64
                isolation: fiber
                handler: "hypot(double,"
                colour: blue
              - library: x.so
            extra: 1
            """
        let error = try #require(throws: ConfigurationFileError.self) { try ConfigurationFile.parse(text, path: "/etc/chute.yaml") }
        let expected = [
            "line 8: functions[0].colour: unknown field",
            "line 7: functions[0].handler: signature 'hypot(double,' is malformed",
            "line 6: functions[0].isolation: must be 'process' or 'thread', got 'fiber'",
            "line 2: functions[0].name: 'bad name!' may only contain",
            "line 4: functions[0].timeout: must be between 1 and 900 seconds",
            "line 5: functions[0].memory: must be between 128 and 10240 MB",
            "line 9: functions[1].name: missing",
            "line 10: unknown top-level field 'extra'",
        ]
        for fragment in expected {
            #expect(error.problems.contains { $0.hasPrefix(fragment) }, "no problem starts with \(fragment): \(error.problems)")
        }
        #expect(error.description.hasPrefix("/etc/chute.yaml: invalid configuration"))
    }

    @Test func aValidFileResolvesLibrariesAgainstItsDirectory() throws {
        let text = """
            functions:
              - name: faults
                library: ../build/libChuteFaults.so
                isolation: thread
                timeout: 2.5
                memory: 256
                concurrency: 7
                initConfig: sleep:1
                environment: {MODE: test}
              - name: hypot
                library: libm.so.6
                handler: hypot(double,double)->double
            """
        let file = try ConfigurationFile.parse(text, path: "/srv/app/chute.yaml")
        let faults = try #require(file.functions.first)
        #expect(faults.library == "/srv/app/../build/libChuteFaults.so")
        #expect(faults.isolation == .thread)
        #expect(faults.timeoutSeconds == 2.5)
        #expect(faults.memoryMB == 256)
        #expect(faults.concurrency == 7)
        #expect(faults.initConfig == Array("sleep:1".utf8))
        #expect(faults.environment == ["MODE": "test"])
        // A bare soname is left for the dynamic loader to find.
        #expect(file.functions[1].library == "libm.so.6")
        #expect(file.functions[1].handler == .declared(try DeclaredSignature.parse("hypot(double,double)->double")))
    }

    @Test func jsonIsAcceptedToo() throws {
        let file = try ConfigurationFile.parse(#"{"functions": [{"name": "f", "library": "/x/lib.so", "timeout": 5}]}"#, path: "/x/c.json")
        #expect(file.functions.map(\.name) == ["f"])
        #expect(file.functions[0].timeoutSeconds == 5)
    }

    @Test func malformedYAMLIsOneClearProblem() throws {
        let error = try #require(throws: ConfigurationFileError.self) { try ConfigurationFile.parse("functions: [", path: "c.yaml") }
        #expect(error.problems.count == 1)
        #expect(error.problems[0].hasPrefix("not valid YAML or JSON"))
    }
}

@Suite struct AsyncConfigurationTests {
    @Test func asyncSettingsAndQueuesAreRead() throws {
        let file = try ConfigurationFile.parse("""
            queues: [done, dlq]
            functions:
              - name: f
                library: /x/lib.so
                async:
                  maximumRetryAttempts: 1
                  maximumEventAgeSeconds: 600
                  retryDelays: [1, 2]
                  onSuccess: done
                  onFailure: arn:aws:lambda:us-east-1:000000000000:function:cleanup
                deadLetter: dlq
              - name: g
                library: /x/lib.so
            """, path: "/x/c.yaml")
        #expect(file.queues == ["done", "dlq"])
        let settings = try #require(file.asyncSettings["f"])
        #expect(settings.invokeConfig.maximumRetryAttempts == 1)
        #expect(settings.invokeConfig.maximumEventAgeSeconds == 600)
        #expect(settings.invokeConfig.retryDelaysSeconds == [1, 2])
        #expect(settings.invokeConfig.onSuccess == "arn:aws:sqs:us-east-1:000000000000:done")
        #expect(settings.invokeConfig.onFailure == "arn:aws:lambda:us-east-1:000000000000:function:cleanup")
        #expect(settings.deadLetterTarget == "arn:aws:sqs:us-east-1:000000000000:dlq")
        #expect(file.asyncSettings["g"] == ConfigurationFile.AsyncSettings())
    }

    @Test func badAsyncSettingsAreNamed() throws {
        let error = try #require(throws: ConfigurationFileError.self) {
            try ConfigurationFile.parse("""
                functions:
                  - name: f
                    library: /x/lib.so
                    async:
                      maximumRetryAttempts: 5
                      onFailure: "arn:aws:s3:::bucket"
                      colour: red
                queues: ["bad name"]
                """, path: "c.yaml")
        }
        #expect(error.problems.contains { $0.contains("functions[0].async.colour: unknown field") })
        #expect(error.problems.contains { $0.contains("functions[0].async.onFailure:") && $0.contains("not supported") })
        #expect(error.problems.contains { $0.contains("functions[0].async: 1 validation error detected: Value '5' at 'maximumRetryAttempts'") })
        #expect(error.problems.contains { $0.contains("queues[0]: must be a queue name") })
    }
}
