//! The event catalog (`GET /api/callback/events`): each of the 24 event types with where it
//! comes from (the account or a participant, as the French edition of OneSpan's guide groups
//! them), and its label and description in English and French, in the guides' own words; then
//! keygate's three operational events (origin `OPERATIONAL`).
//!
//! The French edition lists 22 types: `PACKAGE_RESTORE` (a transaction restored from the
//! Trashed folder) and `PACKAGE_OPT_OUT` (a recipient who opted out of signing electronically)
//! are missing there, so their French is written here in the same register, and their origin
//! follows the English guide's meaning (a sender's action; a recipient's). The French edition
//! gives "Transaction restaurée" to `PACKAGE_UNARCHIVE` (its description is the unarchiving
//! one), so `PACKAGE_RESTORE` is labelled "Transaction restaurée de la corbeille".

use serde::Serialize;

/// Who generates an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Origin {
    Account,
    Participant,
    /// keygate itself, about the delivery of the others (Svix's operational webhooks).
    Operational,
}

/// A text in English and French.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Text {
    pub en: &'static str,
    pub fr: &'static str,
}

/// One event type of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventInfo {
    pub name: &'static str,
    pub origin: Origin,
    pub label: Text,
    pub description: Text,
}

const fn ev(
    name: &'static str,
    origin: Origin,
    label: (&'static str, &'static str),
    description: (&'static str, &'static str),
) -> EventInfo {
    EventInfo {
        name,
        origin,
        label: Text {
            en: label.0,
            fr: label.1,
        },
        description: Text {
            en: description.0,
            fr: description.1,
        },
    }
}

use Origin::{Account, Operational, Participant};

/// The catalog, in the French edition's order: account-generated events, then participant's;
/// then keygate's three operational events (not in OneSpan's guides: their French is written
/// here in the guides' register).
pub const CATALOG: [EventInfo; 27] = [
    ev("TEMPLATE_CREATE", Account, ("Template created", "Modèle créé"),
        ("A new template has been created.", "Un nouveau modèle a été créé.")),
    ev("PACKAGE_CREATE", Account, ("Transaction created", "Transaction créée"),
        ("A transaction has been created.", "Une transaction a été créée.")),
    ev("PACKAGE_DELETE", Account, ("Transaction deleted", "Transaction supprimée"),
        ("A transaction has been permanently deleted from the Trashed folder.",
         "Une transaction a été définitivement supprimée du dossier Corbeille.")),
    ev("PACKAGE_ACTIVATE", Account, ("Transaction activated", "Transaction activée"),
        ("A transaction has been sent.", "Une transaction a été envoyée.")),
    ev("PACKAGE_DEACTIVATE", Account, ("Transaction deactivated", "Transaction désactivée"),
        ("The transaction's status changed from SENT to DRAFT.",
         "Le statut de la transaction est passé de ENVOYÉ à ÉBAUCHE.")),
    ev("PACKAGE_READY_FOR_COMPLETE", Account,
        ("Transaction ready for completion", "Transaction prête à être réalisée"),
        ("A transaction was marked as DO_NOT_AUTOCOMPLETE, and has been signed by all signers. Completion of the transaction requires an action by the sender.",
         "Une transaction a été marquée comme DO_NOT_AUTOCOMPLETE, et a été signée par tous les signataires. L'achèvement de la transaction nécessite une action de l'expéditeur.")),
    ev("VIDEO_RECORDINGS_READY", Account,
        ("Video recordings ready", "Enregistrements vidéo prêts"),
        ("After all signers have finished signing a Virtual Room transaction, the recorded session is processed. Once the recordings are ready to download, this notification is sent.",
         "Une fois que tous les signataires ont fini de signer une transaction de salle virtuelle, la session enregistrée est traitée. Une fois que les enregistrements sont prêts à être téléchargés, cette notification est envoyée.")),
    ev("PACKAGE_EXPIRE", Account, ("Transaction expired", "Transaction expirée"),
        ("A transaction has exceeded its expiry date.",
         "Une transaction a dépassé sa date d'expiration.")),
    ev("PACKAGE_TRASH", Account, ("Transaction trashed", "La transaction a été abandonnée"),
        ("A transaction was moved to the Trashed folder.",
         "Une transaction a été déplacée vers le dossier Corbeille.")),
    ev("PACKAGE_ARCHIVE", Account, ("Transaction archived", "Transaction archivée"),
        ("A transaction has been completed and changed to the Archived status. Archived transactions no longer appear in the user's inbox or dashboard.",
         "Une transaction a été complétée et est passée au statut Archivé. Les transactions archivées n'apparaissent plus dans la boîte de réception ou le tableau de bord de l'utilisateur.")),
    ev("PACKAGE_UNARCHIVE", Account, ("Transaction unarchived", "Transaction restaurée"),
        ("The status of an archived transaction has been changed.",
         "Le statut d'une transaction archivée a été modifié.")),
    // Not in the French edition: written here in its register.
    ev("PACKAGE_RESTORE", Account,
        ("Transaction restored", "Transaction restaurée de la corbeille"),
        ("A transaction in the Trashed folder has been restored to its previous state.",
         "Une transaction du dossier Corbeille a été rétablie dans son état précédent.")),
    ev("EMAIL_BOUNCE", Participant, ("Email bounce", "Rebond de courriel"),
        ("An email bounce has occurred.", "Un rebond de courriel s'est produit.")),
    ev("SIGNER_LOCKED", Participant, ("Recipient locked", "Destinataire verrouillé"),
        ("A recipient has been locked out, due to repeated authentication failures.",
         "Un destinataire a été bloqué, en raison d'échecs répétés d'authentification.")),
    ev("KBA_FAILURE", Participant, ("KBA failure", "Échec du KBA"),
        ("There has been a KBA authentication failure.",
         "Il y a eu un échec d'authentification KBA.")),
    ev("ROLE_REASSIGN", Participant, ("Role reassigned", "Rôle réassigné"),
        ("A recipient has delegated their signature to another signer.",
         "Un destinataire a délégué sa signature à un autre signataire.")),
    ev("PACKAGE_ATTACHMENT", Participant,
        ("Transaction attachment", "Ajout d'une pièce jointe à la transaction"),
        ("A recipient uploaded an attachment.", "Un destinataire a téléversé une pièce jointe.")),
    ev("PACKAGE_DECLINE", Participant, ("Transaction declined", "Transaction refusée"),
        ("A recipient has declined to sign the transaction. The notification includes the recipient's reason for declining.",
         "Un destinataire a refusé de signer la transaction. La notification comprend le motif du refus du destinataire.")),
    ev("DOCUMENT_VIEWED", Participant, ("Document viewed", "Document consulté"),
        ("A transaction's document has been viewed.",
         "Le document d'une transaction a été consulté.")),
    ev("COBROWSE_REQUEST", Participant, ("Co-browse Request", "Demande de co-navigation"),
        ("A request for a co-browsing session has been made.",
         "Une demande de session de co-navigation a été envoyée.")),
    ev("DOCUMENT_SIGNED", Participant, ("Document signed", "Document signé"),
        ("A document is signed, and the electronic consent and disclosure agreement has been accepted.",
         "Un document est signé, et l'accord de consentement aux divulgations et signatures électroniques a été accepté.")),
    ev("SIGNER_COMPLETE", Participant,
        ("Recipient completed signing", "Signature du destinataire complétée"),
        ("A recipient has completed signing all documents.",
         "Un destinataire a terminé de signer tous les documents.")),
    ev("PACKAGE_COMPLETE", Participant, ("Transaction completed", "Transaction complétée"),
        ("A transaction has been completed by all signers, and the sender has completed the transaction.",
         "Une transaction a été complétée par tous les signataires, et l'expéditeur a complété la transaction.")),
    // Not in the French edition: written here in its register.
    ev("PACKAGE_OPT_OUT", Participant,
        ("Transaction opted out of", "Renonciation à la signature électronique"),
        ("A recipient opted out of signing the transaction electronically. The notification includes the recipient's reason for opting out.",
         "Un destinataire a renoncé à signer la transaction par voie électronique. La notification comprend le motif de sa renonciation.")),
    ev("CALLBACK_ENDPOINT_DISABLED", Operational,
        ("Callback endpoint disabled", "Point de terminaison de rappel désactivé"),
        ("A callback endpoint was disabled: it answered 410 Gone, or every delivery to it failed for days. The notification includes the reason.",
         "Un point de terminaison de rappel a été désactivé : il a répondu 410 Gone, ou toutes les livraisons ont échoué pendant plusieurs jours. La notification comprend le motif.")),
    ev("CALLBACK_DELIVERY_EXHAUSTED", Operational,
        ("Callback delivery exhausted", "Livraison de rappel abandonnée"),
        ("A notification could not be delivered to a callback endpoint after every retry, and went to the dead-letter queue. The notification includes its messageId.",
         "Une notification n'a pu être livrée à un point de terminaison de rappel après toutes les tentatives, et a été placée dans la file d'attente de lettres mortes. La notification comprend son messageId.")),
    ev("CALLBACK_ENDPOINT_RECOVERED", Operational,
        ("Callback endpoint recovered", "Point de terminaison de rappel rétabli"),
        ("A disabled callback endpoint was enabled again, by a recovery or by saving its settings.",
         "Un point de terminaison de rappel désactivé a été réactivé, par une récupération ou par l'enregistrement de ses paramètres.")),
];

/// The catalog entry of an event type.
pub fn info(name: &str) -> Option<&'static EventInfo> {
    CATALOG.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_every_event_type_once() {
        let mut names: Vec<&str> = CATALOG.iter().map(|e| e.name).collect();
        names.sort_unstable();
        let mut types = super::super::EVENT_TYPES.to_vec();
        types.extend(super::super::OPERATIONAL_EVENTS);
        types.sort_unstable();
        assert_eq!(names, types);
        assert_eq!(
            CATALOG
                .iter()
                .filter(|e| e.origin == Origin::Account)
                .count(),
            12
        );
        assert_eq!(
            CATALOG
                .iter()
                .filter(|e| e.origin == Origin::Participant)
                .count(),
            12
        );
        assert_eq!(
            CATALOG
                .iter()
                .filter(|e| e.origin == Origin::Operational)
                .count(),
            3
        );
        for e in &CATALOG {
            assert!(
                !e.label.en.is_empty() && !e.label.fr.is_empty(),
                "{}",
                e.name
            );
            assert!(
                e.description.en.ends_with('.') && e.description.fr.ends_with('.'),
                "{}",
                e.name
            );
        }
        let labels: std::collections::HashSet<&str> = CATALOG.iter().map(|e| e.label.fr).collect();
        assert_eq!(labels.len(), 27, "French labels are distinct");
    }
}
