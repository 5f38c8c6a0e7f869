fn main() -> std::process::ExitCode {
    screenhub::cli::main()
}
