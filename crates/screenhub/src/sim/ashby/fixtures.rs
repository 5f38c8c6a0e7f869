//! Made-up but realistic Ashby data: candidates (some with non-ASCII names and
//! addresses), jobs with hiring teams, application statuses, custom-field values.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use screenhub_ashby::partner::{CustomField, CustomFieldType};

const PEOPLE: &[(&str, &str, &str)] = &[
    ("Zoë", "Ñúñez", "zoë.nunez@exämple.com"),
    ("Łukasz", "Wiśniewski", "łukasz.wiśniewski@przykład.pl"),
    ("Björn", "Åkerlund", "bjorn.akerlund@example.com"),
    ("Siobhán", "O'Connor", "siobhan.oconnor@example.com"),
    ("José María", "García-López", "jm.garcia-lopez@example.com"),
    ("Minh Khai", "Nguyễn", "minhkhai.nguyen@example.com"),
    ("美咲", "佐藤", "misaki.sato@example.com"),
    ("Amara", "Okafor", "amara.okafor@example.com"),
    ("Ada", "Lovelace", "ada.lovelace@example.com"),
    ("Grace", "Hopper", "grace.hopper@example.com"),
];

const JOBS: &[(&str, Option<&str>)] = &[
    ("Senior Backend Engineer", Some("ENG-1042")),
    ("Account Executive, DACH", Some("SAL-311")),
    ("Data Scientist – Growth", None),
    ("Head of People", Some("PPL-7")),
    ("Customer Success Manager (Lisbon)", None),
];

const TEAM: &[(&str, &str, &str, &str)] = &[
    (
        "Priya",
        "Raman",
        "priya.raman@example.com",
        "Hiring Manager",
    ),
    ("Tomás", "Herrera", "tomas.herrera@example.com", "Recruiter"),
    (
        "Ingrid",
        "Solberg",
        "ingrid.solberg@example.com",
        "Coordinator",
    ),
    ("Kwame", "Mensah", "kwame.mensah@example.com", "Sourcer"),
];

const LOCATIONS: &[&str] = &[
    "Berlin, Germany",
    "Lisbon, Portugal",
    "Austin, Texas, United States",
    "Kraków, Poland",
    "Tokyo, Japan",
];

/// A UUID from the sim's generator, so a seeded sim makes the same ids.
pub fn uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

pub fn candidate(rng: &mut StdRng) -> Value {
    let person = pick(rng, PEOPLE);
    candidate_for(rng, person)
}

/// Up to `n` different people, in a random order: a job's pipeline lists
/// each person once.
pub fn different_candidates(rng: &mut StdRng, n: usize) -> Vec<Value> {
    use rand::seq::SliceRandom;
    let mut people: Vec<_> = PEOPLE.iter().collect();
    people.shuffle(rng);
    people
        .into_iter()
        .take(n)
        .map(|person| candidate_for(rng, person))
        .collect()
}

fn candidate_for(rng: &mut StdRng, (first, last, email): &(&str, &str, &str)) -> Value {
    let id = uuid(rng);
    json!({
        "ashby_id": id,
        "first_name": first,
        "last_name": last,
        "email": email,
        "ashby_profile_url": format!("https://app.ashbyhq.com/candidates/{id}"),
    })
}

/// Mostly active applications, sometimes a lead, a hire or an archived one.
pub fn application(rng: &mut StdRng) -> Value {
    let status = match rng.gen_range(0..20) {
        0..=14 => "Active",
        15 | 16 => "Lead",
        17 | 18 => "Hired",
        _ => "Archived",
    };
    json!({"ashby_id": uuid(rng), "status": status})
}

pub fn job(rng: &mut StdRng) -> Value {
    let id = uuid(rng);
    let (name, req_id) = pick(rng, JOBS);
    let size = rng.gen_range(1..=TEAM.len());
    let team: Vec<Value> = TEAM[..size]
        .iter()
        .map(|(first, last, email, role)| {
            json!({"userId": uuid(rng), "firstName": first, "lastName": last, "email": email, "role": role})
        })
        .collect();
    let mut job = json!({
        "ashby_id": id,
        "name": name,
        "ashby_job_url": format!("https://app.ashbyhq.com/jobs/{id}"),
        "hiringTeam": team,
    });
    if let Some(req) = req_id {
        job["req_id"] = json!(req);
    }
    job
}

/// Values for the partner's custom fields: every required one, about half of
/// the others. Ashby does not document the value shapes; these are plausible.
pub fn additional_fields(rng: &mut StdRng, fields: &[CustomField]) -> Map<String, Value> {
    let mut out = Map::new();
    for field in fields {
        if field.is_required != Some(true) && rng.gen_bool(0.5) {
            continue;
        }
        let keys: Vec<&str> = field
            .possible_values
            .iter()
            .flatten()
            .map(|p| p.key.as_str())
            .collect();
        let value = match field.r#type {
            CustomFieldType::String => json!("Remote, EU time zones"),
            CustomFieldType::LongText => {
                json!("Relocating from Kraków.\nAvailable from next month.")
            }
            CustomFieldType::Date => json!("2025-03-01"),
            CustomFieldType::DateRange => json!({"start": "2025-03-01", "end": "2025-06-30"}),
            CustomFieldType::Number => json!(rng.gen_range(1..100)),
            CustomFieldType::ValueSelect if !keys.is_empty() => json!(pick(rng, &keys)),
            CustomFieldType::MultiValueSelect if !keys.is_empty() => {
                json!(keys[..rng.gen_range(1..=keys.len())])
            }
            CustomFieldType::ValueSelect | CustomFieldType::MultiValueSelect => continue,
            CustomFieldType::Boolean => json!(rng.gen_bool(0.5)),
            CustomFieldType::Email => json!("references@example.com"),
            CustomFieldType::Phone => json!("+44 20 7946 0958"),
            CustomFieldType::Score => json!(rng.gen_range(1..=4)),
            CustomFieldType::SocialLink => json!("https://www.linkedin.com/in/example"),
            CustomFieldType::Url => json!("https://portfolio.example.com"),
            CustomFieldType::Currency => json!({"value": 85000, "currencyCode": "EUR"}),
            CustomFieldType::Location => json!(pick(rng, LOCATIONS)),
        };
        out.insert(field.id.clone(), value);
    }
    out
}

/// Details Ashby holds but never puts in a start request (phone, location,
/// résumé), derived from the candidate id so they never change.
pub struct CandidateExtras {
    pub phone: String,
    pub location: &'static str,
    pub resume_handle: String,
}

pub fn candidate_extras(candidate_id: &str) -> CandidateExtras {
    let h = candidate_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    CandidateExtras {
        phone: format!("+44 7700 900{:03}", h % 1000),
        location: LOCATIONS[(h % LOCATIONS.len() as u64) as usize],
        resume_handle: format!("resume_{candidate_id}"),
    }
}
