/// Response shapes of the Lambda API; field names are AWS's.

struct FunctionList: Encodable {
    var Functions: [FunctionConfigurationJSON]
}

struct FunctionDetails: Encodable {
    var Configuration: FunctionConfigurationJSON
    var Code: CodeLocation
    var Concurrency: ConcurrencyJSON?

    struct CodeLocation: Encodable {
        var RepositoryType: String
        var Location: String
    }

    struct ConcurrencyJSON: Encodable { var ReservedConcurrentExecutions: Int }
}

struct FunctionConfigurationJSON: Encodable {
    var FunctionName: String
    var FunctionArn: String
    var Runtime: String
    var Role: String
    var Handler: String
    var CodeSize: Int
    var CodeSha256: String
    var Description: String
    var Timeout: Int
    var MemorySize: Int
    var Version: String
    var LastModified: String
    var State: String
    var LastUpdateStatus: String
    var PackageType: String
    var Architectures: [String]
    var Environment: EnvironmentJSON
    var DeadLetterConfig: DeadLetterJSON?

    struct EnvironmentJSON: Encodable { var Variables: [String: String] }
    struct DeadLetterJSON: Encodable { var TargetArn: String }
}

struct EventInvokeConfigJSON: Codable {
    var FunctionArn: String?
    var LastModified: Double?
    var MaximumRetryAttempts: Int?
    var MaximumEventAgeInSeconds: Int?
    var DestinationConfig: Destinations?

    struct Destinations: Codable {
        var OnSuccess: Target?
        var OnFailure: Target?
    }

    struct Target: Codable { var Destination: String? }
}
