public enum EvaldVersion {
    public static let current = "0.1.0"
}
