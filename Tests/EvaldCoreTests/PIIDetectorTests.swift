import EvaldCore
import Foundation
import Testing

/// A text that holds exactly one piece of PII: `expected` is what the match's `text` must be.
struct PIIPositive: Sendable, CustomTestStringConvertible {
    var kind: PIIKind
    var text: String
    var expected: String
    init(_ kind: PIIKind, _ text: String, _ expected: String) {
        self.kind = kind
        self.text = text
        self.expected = expected
    }
    var testDescription: String { "\(kind.rawValue): \(text.prefix(60))" }
}

/// A text that looks like PII of `lookalike` kind but holds none.
struct PIINegative: Sendable, CustomTestStringConvertible {
    var lookalike: PIIKind
    var text: String
    init(_ lookalike: PIIKind, _ text: String) {
        self.lookalike = lookalike
        self.text = text
    }
    var testDescription: String { "not \(lookalike.rawValue): \(text.prefix(60))" }
}

let pemBlock = """
    -----BEGIN RSA PRIVATE KEY-----
    MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu
    KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm
    -----END RSA PRIVATE KEY-----
    """

let piiPositives: [PIIPositive] = [
    // E-mail
    .init(.email, "I've sent the confirmation to jane.doe@example.com as well.", "jane.doe@example.com"),
    .init(.email, "Here is the address:\n\n```\nsupport+orders@shop.example.co.uk\n```\n", "support+orders@shop.example.co.uk"),
    .init(.email, "They ask for a callback. Contact: mschmidt@mail.example.com.", "mschmidt@mail.example.com"),
    .init(.email, "For reference, the account is registered to Tom Baker (tbaker@example.net).", "tbaker@example.net"),
    .init(.email, "Use `ops_team-2@sub-domain.example.io` for escalations.", "ops_team-2@sub-domain.example.io"),
    .init(.email, "E-MAIL: DANIEL7@EXAMPLE.COM", "DANIEL7@EXAMPLE.COM"),
    .init(.email, "{\"customer_email\": \"m.rossi@example.it\"}", "m.rossi@example.it"),
    // Phone: international
    .init(.phone, "The previous owner can be reached at +44 20 7946 0825.", "+44 20 7946 0825"),
    .init(.phone, "The courier will call +1 415-555-0142 before delivery.", "+1 415-555-0142"),
    .init(.phone, "I've noted +49 151 2345 6789 as the contact number.", "+49 151 2345 6789"),
    .init(.phone, "Call us on +1 (415) 555-0123 between 9 and 5.", "+1 (415) 555-0123"),
    .init(.phone, "Our London office: +44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
    .init(.phone, "WhatsApp: +4915112345678", "+4915112345678"),
    .init(.phone, "Tel. +33 1 23 45 67 89 (Paris)", "+33 1 23 45 67 89"),
    .init(.phone, "phone: +1.415.555.0123", "+1.415.555.0123"),
    // Phone: national
    .init(.phone, "Please call me at (415) 555-0123 after 6 pm.", "(415) 555-0123"),
    .init(.phone, "My number is 415-555-0123.", "415-555-0123"),
    .init(.phone, "Reach the store at 415.555.0123 today.", "415.555.0123"),
    .init(.phone, "Toll-free: 1-800-555-0199", "1-800-555-0199"),
    .init(.phone, "The branch number is 020 7946 0958.", "020 7946 0958"),
    .init(.phone, "Text me on 07700 900123 when you arrive.", "07700 900123"),
    .init(.phone, "Rufen Sie 030 1234567 an.", "030 1234567"),
    .init(.phone, "Telefon: 030/1234567", "030/1234567"),
    .init(.phone, "Telefon (030) 1234567", "(030) 1234567"),
    .init(.phone, "Mobil 0151-12345678", "0151-12345678"),
    .init(.phone, "Appelez le 01 23 45 67 89.", "01 23 45 67 89"),
    .init(.phone, "Freephone 0800 123 4567 (24/7).", "0800 123 4567"),
    .init(.phone, "Manchester office: 0161 496 0000", "0161 496 0000"),
    // Phone: shapes the Faker benchmark found missing (issue 18), each valid in its numbering plan
    .init(.phone, "Call 716.311.3424x6853 after lunch.", "716.311.3424x6853"),
    .init(.phone, "Phone: (716)311-3424x323", "(716)311-3424x323"),
    .init(.phone, "From Europe dial 001-716-311-3424.", "001-716-311-3424"),
    .init(.phone, "Telefoon: 0297102476", "0297102476"),
    .init(.phone, "Rufen Sie 03547247751 an.", "03547247751"),
    .init(.phone, "Her number is 2405244337, she prefers texts.", "2405244337"),
    .init(.phone, "Bel de klant terug op (0849)-305650.", "(0849)-305650"),
    .init(.phone, "Contact: +49(0)3915 00080", "+49(0)3915 00080"),
    .init(.phone, "Llame al 612 34 56 78.", "612 34 56 78"),
    .init(.phone, "Main line 020 7946 0958 ext. 214", "020 7946 0958 ext. 214"),
    .init(.phone, "call +44 20 7946 0958 (1) or later", "+44 20 7946 0958"),
    // Payment card (all Luhn-valid)
    .init(.paymentCard, "The refund was issued to the card 4111 1111 1111 1111.", "4111 1111 1111 1111"),
    .init(.paymentCard, "Your payment card on file is 5555-5555-5555-4444, expiring 06/28.", "5555-5555-5555-4444"),
    .init(.paymentCard, "card=4012888888881881", "4012888888881881"),
    .init(.paymentCard, "Amex 3782 822463 10005 was charged.", "3782 822463 10005"),
    .init(.paymentCard, "Discover 6011111111111117", "6011111111111117"),
    .init(.paymentCard, "Mastercard 2223 0031 2200 3222 (2-series).", "2223 0031 2200 3222"),
    .init(.paymentCard, "Maestro 5018 0901 4662 was declined.", "5018 0901 4662"),
    .init(.paymentCard, "JCB 180033847651034 on file.", "180033847651034"),
    .init(.paymentCard, "Visa 4096 4889 4101 8 (13 digits).", "4096 4889 4101 8"),
    .init(.paymentCard, "Charged to 4096-4889-4101-8 on Monday.", "4096-4889-4101-8"),
    // US SSN
    .init(.usSSN, "SSN: 123-45-6789", "123-45-6789"),
    .init(.usSSN, "The applicant's social security number is 078-05-1120.", "078-05-1120"),
    .init(.usSSN, "ssn 665-12-3456 on file", "665-12-3456"),
    .init(.usSSN, "(899-01-0001)", "899-01-0001"),
    // IBAN (all mod-97 valid)
    .init(.iban, "The refund will be transferred to IBAN GB82 WEST 1234 5698 7654 32.", "GB82 WEST 1234 5698 7654 32"),
    .init(.iban, "IBAN: DE89370400440532013000", "DE89370400440532013000"),
    .init(.iban, "We will send the money to the account DE89 3704 0044 0532 0130 00 that you provided.", "DE89 3704 0044 0532 0130 00"),
    .init(.iban, "NL24 INGB 8928 6596 62", "NL24 INGB 8928 6596 62"),
    .init(.iban, "Compte FR14 2004 1010 0505 0001 3M02 606.", "FR14 2004 1010 0505 0001 3M02 606"),
    .init(.iban, "Konto NO9386011117947", "NO9386011117947"),
    .init(.iban, "MT84 MALT 0110 0001 2345 MTLC AST0 01S", "MT84 MALT 0110 0001 2345 MTLC AST0 01S"),
    .init(.iban, "CH93 0076 2011 6238 5295 7", "CH93 0076 2011 6238 5295 7"),
    // IPv4
    .init(.ipv4, "The request came from 192.168.1.20 at 14:02.", "192.168.1.20"),
    .init(.ipv4, "Connect to 10.0.0.1:8080 for the admin panel.", "10.0.0.1"),
    .init(.ipv4, "Blocked address: 203.0.113.45.", "203.0.113.45"),
    .init(.ipv4, "netmask 255.255.255.255", "255.255.255.255"),
    .init(.ipv4, "the gateway (172.16.254.1) is down", "172.16.254.1"),
    .init(.ipv4, "Use the DNS server 8.8.8.8 instead.", "8.8.8.8"),
    // Secrets with a known prefix
    .init(
        .secret, "export OPENAI_API_KEY=sk-proj-u8jzPde0IgxLd6GncfBA-epfJBd0Kh8oOOL8dKLzd_ocJ2isAjIhKt",
        "sk-proj-u8jzPde0IgxLd6GncfBA-epfJBd0Kh8oOOL8dKLzd_ocJ2isAjIhKt"),
    .init(.secret, "key: sk-J0RlgLKOmxgJTeKdNnFRIBXuDL7DxtpYlSXpfKtHF4vUCsMe", "sk-J0RlgLKOmxgJTeKdNnFRIBXuDL7DxtpYlSXpfKtHF4vUCsMe"),
    .init(
        .secret, "ANTHROPIC_API_KEY=\"sk-ant-api03-hGAkWvj7FAc9QeWJKY40uvSwMFLZDe1f8rESQedU-StPKR0CsTy4Qwb8DwkNhAA\"",
        "sk-ant-api03-hGAkWvj7FAc9QeWJKY40uvSwMFLZDe1f8rESQedU-StPKR0CsTy4Qwb8DwkNhAA"),
    .init(.secret, "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    .init(.secret, "temporary credentials ASIA5DNSIPZZ5FK2Z9RI expire in 1 h", "ASIA5DNSIPZZ5FK2Z9RI"),
    .init(.secret, "token ghp_0B3JrTAwR4y9ojfljoQoaF1LlqsajAIxNKu8", "ghp_0B3JrTAwR4y9ojfljoQoaF1LlqsajAIxNKu8"),
    .init(.secret, "gho_iS2G8NPRVdD53X83RZJzzzzgEOzdmenCkhvM", "gho_iS2G8NPRVdD53X83RZJzzzzgEOzdmenCkhvM"),
    .init(.secret, "(ghu_dgaKjIg8xNbe3nNyjOq9wMxEhh2FDEEtfjgV)", "ghu_dgaKjIg8xNbe3nNyjOq9wMxEhh2FDEEtfjgV"),
    .init(.secret, "ghs_vVqE1SkHbn88HxjSI6bWHtP3fS2qHx6kwXoI", "ghs_vVqE1SkHbn88HxjSI6bWHtP3fS2qHx6kwXoI"),
    .init(.secret, "ghr_IXGvOoNZYW2mZp0zVZomHFwUbbYrEqmSM9wC", "ghr_IXGvOoNZYW2mZp0zVZomHFwUbbYrEqmSM9wC"),
    .init(
        .secret, "GITHUB_TOKEN=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",
        "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"),
    .init(.secret, "slack bot xoxb-954862057986-8282880729022-jENUhJduRHHJEYXg4JdpmrcX", "xoxb-954862057986-8282880729022-jENUhJduRHHJEYXg4JdpmrcX"),
    .init(.secret, "xoxp-187801759898-3478878384837-iAhzCueQpBenQtYh5Xj8TPQx", "xoxp-187801759898-3478878384837-iAhzCueQpBenQtYh5Xj8TPQx"),
    .init(.secret, "xoxa-242731672326-8656355150587-CTbyvHNsG9eh6Yo4gfqrc5Xl", "xoxa-242731672326-8656355150587-CTbyvHNsG9eh6Yo4gfqrc5Xl"),
    .init(.secret, "xoxr-426462889751-4026140141931-q3hDavJA76rNicHTp8hkqdlm", "xoxr-426462889751-4026140141931-q3hDavJA76rNicHTp8hkqdlm"),
    .init(.secret, "xoxs-448347824504-0008838737167-I14zGtSnovm14TUOizwd1iae", "xoxs-448347824504-0008838737167-I14zGtSnovm14TUOizwd1iae"),
    .init(.secret, "maps key AIzaOV4qBkdfQ1y3GQsMpSscDlkrCaqx9vJup-_ here", "AIzaOV4qBkdfQ1y3GQsMpSscDlkrCaqx9vJup-_"),
    .init(.secret, "STRIPE_SECRET_KEY=sk_live_c94tnwlavyfErGPmpGXafq0f", "sk_live_c94tnwlavyfErGPmpGXafq0f"),
    .init(.secret, "restricted: rk_live_jzLczbttOofL9H2WjQ5TY4My", "rk_live_jzLczbttOofL9H2WjQ5TY4My"),
    .init(.secret, "Here is the key:\n\(pemBlock)\nKeep it safe.", pemBlock),
    .init(.secret, "-----BEGIN OPENSSH PRIVATE KEY----- (truncated)", "-----BEGIN OPENSSH PRIVATE KEY-----"),
    .init(
        .secret,
        "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSFMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c.",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSFMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    ),
    // Secrets found by entropy alone
    .init(.secret, "Your webhook signing secret is pUWnoVPDF2yeE6RsXcNOPmeMjvqPVStN.", "pUWnoVPDF2yeE6RsXcNOPmeMjvqPVStN"),
    .init(
        .secret, "client_secret=KiaEdFrRgSnRFsTHsDDDXh5Jmtf7EbsDe0G9Cryn&grant_type=client_credentials",
        "KiaEdFrRgSnRFsTHsDDDXh5Jmtf7EbsDe0G9Cryn"),
    .init(.secret, "token=pv1MkUoW20cIdSsPFUS4NcDnGQl9+ocB6SMvIfKBJoc=", "pv1MkUoW20cIdSsPFUS4NcDnGQl9+ocB6SMvIfKBJoc="),
    .init(
        .secret, "Reset link: https://example.com/reset?token=Q2hhbmdlTWVQbGVhc2UxMjM0NTY3ODkwYWJjZGVm",
        "Q2hhbmdlTWVQbGVhc2UxMjM0NTY3ODkwYWJjZGVm"),
]

let piiNegatives: [PIINegative] = [
    // Cards: fail Luhn, wrong grouping, not a card network
    .init(.paymentCard, "The card 4111 1111 1111 1112 was declined."),
    .init(.paymentCard, "Claim number: 2026 2258 3973 5275."),
    .init(.paymentCard, "Please quote reference 2026-4224-0806-9368 in any reply."),
    .init(.paymentCard, "Reference 4111111111111112"),
    .init(.paymentCard, "The USPS tracking number is 9400100000000000000000."),
    .init(.paymentCard, "EAN 5012345678900"),
    .init(.paymentCard, "Pallet SSCC 00340434161094042557"),
    .init(.paymentCard, "The claim 2026 4111 1111 1111 1111 is open."),
    .init(.paymentCard, "EAN 4006381333924"),
    .init(.paymentCard, "Barcode: 4006381333924"),
    .init(.paymentCard, "Tracking number: 371234567890120"),
    .init(.paymentCard, "Reference 7012345678901232 is not a card network."),
    // IBAN: wrong checksum, unknown country, wrong length, lower case prose
    .init(.iban, "IBAN GB83 WEST 1234 5698 7654 32"),
    .init(.iban, "IBAN DE88370400440532013000"),
    .init(.iban, "Account XX89 3704 0044 0532 0130 00"),
    .init(.iban, "IBAN GB82 WEST 1234 5698 7654"),
    .init(.iban, "Voucher code AB12 CDEF GHIJ KLMN"),
    // SSN: never-assigned areas, groups and serials; not dashed; inside a longer token
    .init(.usSSN, "SSN 000-12-3456"),
    .init(.usSSN, "SSN 666-12-3456"),
    .init(.usSSN, "SSN 900-12-3456"),
    .init(.usSSN, "SSN 987-65-4321"),
    .init(.usSSN, "SSN 123-00-4567"),
    .init(.usSSN, "SSN 123-45-0000"),
    .init(.usSSN, "Customer number 123456789 is linked to two addresses."),
    .init(.usSSN, "Order ORD-123-45-6789 shipped."),
    // IPv4: octet out of range, longer dotted numbers, versions
    .init(.ipv4, "Address 256.1.1.1 is not valid."),
    .init(.ipv4, "Section 1.2.3.4.5 of the manual."),
    .init(.ipv4, "Update to v1.2.3.4 please."),
    .init(.ipv4, "This was fixed in version 1.2.3.4 of the client."),
    .init(.ipv4, "Version: 10.2.0.1"),
    .init(.ipv4, "build 4.0.1.12 is broken"),
    .init(.ipv4, "Part 01.02.03.04"),
    .init(.ipv4, "Delivered on 28.11.2026 at 13.45."),
    .init(.ipv4, "Windows 10.0.19045.3803"),
    .init(.ipv4, "See section 4.2.1.3 of the manual."),
    .init(.ipv4, "Gemäß § 4.2.1.3 der AGB."),
    .init(.ipv4, "Please pin the SDK to 9.14.7.72 until the fix ships."),
    .init(.ipv4, "Versie 1.12.6.130 lost dit op."),
    .init(.ipv4, "The attribute OID 2.5.4.39 maps to the certificate revocation list."),
    .init(.ipv4, "Map 2.5.4.39 to the LDAP field."),
    .init(.ipv4, "We tested on 11.13.16.36 and 9.0."),
    .init(.ipv4, "Bitte auf 3.2.0.14 aktualisieren."),
    // Phone: dates, times, order numbers, prices, ranges, bare digit runs
    .init(.phone, "Delivered on 2026-11-28 at 14:30."),
    .init(.phone, "Delivery on 11/28/2026."),
    .init(.phone, "Lieferung am 28.11.2026."),
    .init(.phone, "Dated 05-11-2026 14:30."),
    .init(.phone, "Order ORD-2026-000123 is on its way."),
    .init(.phone, "Ticket #48213 and order A-10293."),
    .init(.phone, "Total $1,299.00 or 1.299,00 EUR."),
    .init(.phone, "Refunds take 5-7 business days; 2-3 sentences."),
    .init(.phone, "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2."),
    .init(.phone, "UPS tracking number: 1Z999AA10123456784."),
    .init(.phone, "DHL tracking number 5706251118."),
    .init(.phone, "GLS tracking number: 14439560453."),
    .init(.phone, "Bundle +3 items for +15% off."),
    .init(.phone, "Opening hours 08:00-20:00, Mon-Fri."),
    .init(.phone, "We processed 250 500 1000 records."),
    .init(.phone, "Product codes 0123 4567 8901 2345 6789."),
    .init(.phone, "The gift card 6011 0009 9013 9425 has expired."),
    .init(.phone, "Part numbers 0034-5678-9012 and 0099-1234-5678."),
    .init(.phone, "SSN 000-12-3456"),
    .init(.phone, "Lottery numbers 05 12 23 34 45 49."),
    .init(.phone, "Ship to 12 Main St, Boston, MA 02134-1234."),
    .init(.phone, "Geleverd op 06-12-1997."),
    .init(.phone, "Order 2405244337 has shipped."),
    .init(.phone, "Commande n° 5409881655"),
    .init(.phone, "Unix time 961982310"),
    .init(.phone, "GTIN 0060326040654 is out of stock."),
    .init(.phone, "Call (794)236-2034 now."),
    // E-mail: handles, asset names, no domain
    .init(.email, "Ping @jane.doe on Slack."),
    .init(.email, "The icon file is logo@2x.png."),
    .init(.email, "Send it to root@localhost for testing."),
    .init(.email, "write to jane dot doe at example dot com"),
    .init(.email, "Invalid address jane..doe@example.com"),
    // Secrets: hex, UUIDs, identifiers, slugs, prefixes without a random body
    .init(.secret, "Reference: f8cf8d02-6d55-4fe1-94e4-8debf7783b79."),
    .init(.secret, "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1a2b0b822cd15d6c15b0f00a08"),
    .init(.secret, "trace 4bf92f3577b34da6a3ce929d0e0e4736"),
    .init(.secret, "commit 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"),
    .init(.secret, "SHA-512 CF83E1357EEFB8BDF1542850D66D8007D620E4050B5715DC83F4A921D36CE9CE47D0D13C5D85F2B0FF8318D2877EEC2F63B931BD47417A81A538327AF927DA3E"),
    .init(.secret, "See sk-learn-pipeline-configuration-guide for details."),
    .init(.secret, "how-to-reset-your-password-in-2026-step-by-step"),
    .init(.secret, "The renderer OrderConfirmationEmailTemplateRenderer2026 failed."),
    .init(.secret, "order_status_updated_2026_11_28_batch_0001"),
    .init(.secret, "/api/v1/customers/cus_12345/subscriptions/sub_67890/items"),
    .init(.secret, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1"),
    .init(.secret, "AKIA1234 is too short to be a key"),
    .init(.secret, "The task-management feature shipped."),
    .init(.secret, "Request id chatcmpl-AbC9dEf3GhI5jKl7MnO9pQr1StU3vWx failed."),
    .init(.secret, "The spec is at https://docs.google.com/document/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit"),
    .init(.secret, "\"integrity\": \"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\""),
]

@Suite struct PIIDetectorTests {
    let detector = PIIDetector()

    @Test(arguments: piiPositives)
    func findsEachKind(_ example: PIIPositive) {
        let found = detector.matches(in: example.text)
        #expect(found.count == 1, "found \(found.map { "\($0.kind.rawValue): \($0.text)" })")
        #expect(found.first?.kind == example.kind)
        #expect(found.first?.text == example.expected)
        if let match = found.first { #expect(String(example.text[match.range]) == match.text) }
    }

    @Test(arguments: piiNegatives)
    func ignoresLookalikes(_ example: PIINegative) {
        let found = detector.matches(in: example.text)
        #expect(found.isEmpty, "found \(found.map { "\($0.kind.rawValue): \($0.text)" })")
    }

    @Test func everyKindHasPositiveAndNegativeExamples() {
        for kind in PIIKind.allCases {
            #expect(piiPositives.filter { $0.kind == kind }.count >= 4, "\(kind)")
            #expect(piiNegatives.contains { $0.lookalike == kind }, "\(kind)")
        }
    }

    @Test func kindsNarrowDetection() {
        let text = "Mail jane@example.com, call +44 20 7946 0958, card 4111 1111 1111 1111, IBAN DE89370400440532013000."
        #expect(PIIDetector().matches(in: text).map(\.kind) == [.email, .phone, .paymentCard, .iban])
        #expect(PIIDetector(kinds: [.email]).matches(in: text).map(\.text) == ["jane@example.com"])
        #expect(PIIDetector(kinds: [.iban, .paymentCard]).matches(in: text).map(\.kind) == [.paymentCard, .iban])
        #expect(PIIDetector(kinds: [.secret, .ipv4]).matches(in: text).isEmpty)
        #expect(PIIDetector(kinds: []).matches(in: text).isEmpty)
    }

    @Test func aNarrowedDetectorReportsASubsetOfTheFullOne() {
        let text = "Key pUWnoVPDF2yeE6RsXcNOPmeMjvqPVStN@example.com, +1 415-555-0142, 078-05-1120, 10.0.0.1, AKIAIOSFODNN7EXAMPLE"
        let all = detector.matches(in: text)
        #expect(all.map(\.kind) == [.email, .phone, .usSSN, .ipv4, .secret])
        for kind in PIIKind.allCases {
            #expect(PIIDetector(kinds: [kind]).matches(in: text) == all.filter { $0.kind == kind })
        }
        // The address's random local part is not reported as a secret on its own.
        #expect(PIIDetector(kinds: [.secret]).matches(in: text).map(\.text) == ["AKIAIOSFODNN7EXAMPLE"])
    }

    @Test func redactReplacesEveryMatchWithItsKind() {
        let text = "Mail jane@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE."
        #expect(detector.redact(text) == "Mail [REDACTED:email] or call [REDACTED:phone]; card [REDACTED:payment_card], key [REDACTED:secret].")
        #expect(detector.redact("No PII here: order A-10293, €74.95.") == "No PII here: order A-10293, €74.95.")
        #expect(detector.redact("") == "")
        #expect(PIIDetector(kinds: [.usSSN]).redact("SSN 123-45-6789 from 10.0.0.1") == "SSN [REDACTED:us_ssn] from 10.0.0.1")
        #expect(detector.redact("DE89 3704 0044 0532 0130 00") == "[REDACTED:iban]")
    }

    @Test func matchesAreInTextOrderWithRangesIntoTheOriginalString() {
        // Non-ASCII before the matches: ranges must be String indices, not byte or UTF-16 offsets.
        let text = "Grüße 🙂 — 10.0.0.7 then bob@example.org then 078-05-1120 then 192.168.0.1"
        let found = detector.matches(in: text)
        #expect(found.map(\.kind) == [.ipv4, .email, .usSSN, .ipv4])
        #expect(found.map(\.text) == ["10.0.0.7", "bob@example.org", "078-05-1120", "192.168.0.1"])
        for match in found { #expect(String(text[match.range]) == match.text) }
        #expect(detector.matches(in: "IDs: 10.0.0.1,10.0.0.2").map(\.text) == ["10.0.0.1", "10.0.0.2"])
        #expect(zip(found, found.dropFirst()).allSatisfy { $0.range.upperBound <= $1.range.lowerBound })
    }

    @Test func overlapsKeepTheLongerOrMoreSpecificMatch() {
        // "415-555-0142" alone is a US number; the international form around it is the match.
        #expect(detector.matches(in: "call +1 415-555-0142 now").map(\.text) == ["+1 415-555-0142"])
        // A known-prefix key is also a high-entropy token: one match, not two.
        let key = "sk-proj-u8jzPde0IgxLd6GncfBA-epfJBd0Kh8oOOL8dKLzd_ocJ2isAjIhKt"
        #expect(detector.matches(in: "key \(key)").map(\.text) == [key])
        // An address whose local part is a random token is reported once, as an e-mail.
        let address = "pUWnoVPDF2yeE6RsXcNOPmeMjvqPVStN@example.com"
        #expect(detector.matches(in: address).map(\.kind) == [.email])
    }

    /// One answer per line: outputs of examples/spool traces into which generate_spool.py injected
    /// no PII (every one that got a look-alike, plus 30 more per route; newlines folded to spaces),
    /// followed by hand-written look-alikes (dates, prices, versions, hashes, tracking numbers...).
    @Test func cleanCorpusHasNoFalsePositives() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/clean-answers.txt")
        let answers = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(answers.count >= 200)
        for (index, answer) in answers.enumerated() {
            let found = detector.matches(in: answer)
            #expect(found.isEmpty, "line \(index + 1): \(found.map { "\($0.kind.rawValue): \($0.text)" })")
        }
    }

    /// ICU's \d matches non-ASCII digits; the validators must not trap on them.
    @Test func nonASCIIDigitsNeitherTrapNorMatch() {
        let detector = PIIDetector()
        for text in ["१.२.३.४", "１.２.３.４", "Call ０２０ ７９４６ ０９５８", "٤١١١ ١١١١ ١١١١ ١١١١", "१२३-४५-६७८९"] {
            #expect(detector.matches(in: text).isEmpty, "\(text)")
        }
    }
}
