// mimalloc: the hot path allocates many short-lived buffers (HTTP, JSON,
// SQL rows); glibc's malloc took a fifth of its instructions in the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    screenhub::cli::main()
}
