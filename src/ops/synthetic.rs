//! The one generator of synthetic data, for `serve --demo` and `seed-bench`:
//! the name lists, a small deterministic RNG, client profiles drawn from
//! them and the rows the API would store for them (both tools load those
//! through `repo::bulk`). The same seed makes the same data on every run.

use crate::domain::ClientStatus;
use crate::repo::assignments::NewAssignment;
use crate::service::provision::{row_for, ProvisionInput};
use anyhow::{anyhow, Result};
use entity::{client, client_assignment};
use sea_orm::ActiveValue::Set;
use uuid::Uuid;

const PREFIXES: &[&str] = &[
    "Acme",
    "Bright",
    "Cedar",
    "Summit",
    "Harbor",
    "Maple",
    "Golden",
    "Silver",
    "Riverside",
    "Oak",
    "Pioneer",
    "Lakeside",
    "Northgate",
    "Evergreen",
    "Blue Sky",
    "Redwood",
    "Sunrise",
    "Granite",
    "Willow",
    "Metro",
    "Coastal",
    "Prairie",
    "Highland",
    "Union",
    "Liberty",
    "Falcon",
    "Horizon",
    "Keystone",
    "Meadow",
    "Orchard",
];
const CITIES: &[&str] = &[
    "Austin", "Boston", "Denver", "Portland", "Phoenix", "Atlanta", "Seattle", "Chicago", "Miami", "Dallas", "Tampa",
    "Omaha", "Tulsa", "Fresno", "Mesa", "Reno", "Boise", "Albany", "Dayton", "Akron",
];
/// 30 trades; exactly one contains "dent", so the search `dent` matches
/// about 3.3 % of a partner's clients.
const TRADES: &[(&str, &str)] = &[
    ("Dental", "dental"),
    ("Plumbing", "plumbing"),
    ("Law Group", "law"),
    ("Veterinary", "vet"),
    ("Auto Repair", "auto"),
    ("Realty", "realty"),
    ("Roofing", "roofing"),
    ("Physiotherapy", "physio"),
    ("Bakery", "bakery"),
    ("HVAC", "hvac"),
    ("Insurance", "insurance"),
    ("Chiropractic", "chiro"),
    ("Landscaping", "landscaping"),
    ("Accounting", "accounting"),
    ("Fitness", "fitness"),
    ("Salon", "salon"),
    ("Pest Control", "pest"),
    ("Electric", "electric"),
    ("Locksmith", "locksmith"),
    ("Moving", "moving"),
    ("Optometry", "optometry"),
    ("Pharmacy", "pharmacy"),
    ("Catering", "catering"),
    ("Cleaning", "cleaning"),
    ("Flooring", "flooring"),
    ("Painting", "painting"),
    ("Pool Service", "pools"),
    ("Tutoring", "tutoring"),
    ("Photography", "photo"),
    ("Florist", "florist"),
];
const FIRST: &[&str] =
    &["Maria", "James", "Aisha", "Chen", "Lukas", "Sofia", "Omar", "Priya", "Tom", "Elena", "Kenji", "Zoe"];
const LAST: &[&str] =
    &["Garcia", "Smith", "Khan", "Li", "Muller", "Rossi", "Haddad", "Patel", "Jones", "Novak", "Sato", "Dubois"];
const ZONES: &[&str] =
    &["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London"];

/// splitmix64: a tiny deterministic generator, so every run makes the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(((u128::from(self.next()) << 64) | u128::from(self.next())).to_be_bytes())
            .into_uuid()
    }

    fn pick<T: Copy>(&mut self, list: &[T]) -> T {
        list[self.below(list.len())]
    }
}

/// A person's name from the lists, chosen by position: staff accounts are
/// spread over the names without drawing from the generator.
pub fn person(first: usize, last: usize) -> String {
    format!("{} {}", FIRST[first % FIRST.len()], LAST[last % LAST.len()])
}

/// A business and its contact, drawn from the lists, as the provisioning
/// form would send it; `seq` makes the clientId unique within a partner.
/// One business in ten needs no support contact.
pub fn profile(rng: &mut Rng, seq: u64) -> ProvisionInput {
    let prefix = rng.pick(PREFIXES);
    let city = rng.pick(CITIES);
    let (trade, trade_slug) = rng.pick(TRADES);
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let slug = prefix.to_lowercase().replace(' ', "");
    let domain = format!("{slug}{trade_slug}{seq}.example.com");
    ProvisionInput {
        client_id: format!("{slug}-{trade_slug}-{seq}"),
        business_name: format!("{prefix} {trade} of {city}"),
        business_email: format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
        web_domain: domain,
        contact_name: format!("{first} {last}"),
        timezone: rng.pick(ZONES).to_owned(),
        support_contact_required: Some(rng.below(10) != 0),
    }
}

/// The row the API would store for `input`, under the given id.
pub fn client_row(
    id: Uuid,
    partner_id: Uuid,
    input: &ProvisionInput,
    status: ClientStatus,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<client::ActiveModel> {
    let mut row = row_for(partner_id, input, status, created_at)
        .map_err(|e| anyhow!("synthetic client {:?} is invalid: {e:?}", input.client_id))?;
    row.id = Set(id);
    Ok(row)
}

pub fn assignment(
    client_uuid: Uuid,
    user_id: Uuid,
    support_contact: bool,
    assigned_by: Uuid,
    assigned_at: chrono::DateTime<chrono::Utc>,
) -> client_assignment::ActiveModel {
    NewAssignment { client_uuid, user_id, support_contact, assigned_by: Some(assigned_by), assigned_at }.row()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_profiles() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for seq in 0..50 {
            let (x, y) = (profile(&mut a, seq), profile(&mut b, seq));
            assert_eq!((x.client_id, x.business_email), (y.client_id, y.business_email));
        }
        assert_eq!(a.uuid(), b.uuid());
    }

    #[test]
    fn every_profile_is_valid_input() {
        let mut rng = Rng::new(1);
        for seq in 0..500 {
            let input = profile(&mut rng, seq);
            client_row(Uuid::nil(), Uuid::nil(), &input, ClientStatus::ALL[0], chrono::Utc::now()).unwrap();
        }
    }

    #[test]
    fn one_trade_in_thirty_matches_dent() {
        assert_eq!(TRADES.len(), 30);
        assert_eq!(TRADES.iter().filter(|(t, s)| t.to_lowercase().contains("dent") || s.contains("dent")).count(), 1);
    }
}
