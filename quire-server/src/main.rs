fn main() {
    eprintln!("error: the quire server is not implemented yet");
    std::process::exit(2);
}
