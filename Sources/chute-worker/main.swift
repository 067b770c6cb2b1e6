import ChuteWorkers
import Glibc

// chute-worker --zygote: started by the host with its control socket as file descriptor 3.
let arguments = CommandLine.arguments
guard arguments.count >= 2, arguments[1] == "--zygote" else {
    let message = "chute-worker is started by the chute host (chute-worker --zygote, control socket on fd 3)\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    exit(64)
}
WorkerMain.runZygote(controlFD: 3)
