"""Nothing accepted is ignored: every field of settings, proxy and the event-transport blocks,
and every event name, has a behaviour test on the sim, or is refused with a 400 naming it.

A field or event added to the schemas or the catalogue fails `test_every_field_and_event_is_
accounted_for` until it is given one or the other."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, make_settings
from wagate.api.schemas.events import ProxyBody, TransportFields, WebhookFields
from wagate.api.schemas.instance import CreateInstance, SettingsBody
from wagate.api.schemas.message import SendButtons
from wagate.config import SettingsError
from wagate.events.catalogue import NOT_SENT, SUBSCRIBABLE
from wagate.events.runtime import global_routes

ACT = "tests.messaging.test_settings_act::"
PROXY = "tests.messaging.test_proxy::"
CONFIG = "tests.events.test_config_routes::"
CHAT = "tests.messaging.test_chat_group_label::"
HISTORY = "tests.messaging.test_history::"
SINKS = "tests.events.test_sinks::"

CALL = ACT + "test_a_rejected_call_is_announced_and_answered_with_msg_call"
READ = ACT + "test_read_messages_and_read_status_send_read_receipts"
FLOW = CHAT + "test_inbound_from_a_simulated_contact_and_chat_routes"
GROUPS = CHAT + "test_groups_and_labels"
PROXIED = PROXY + "test_sessions_and_media_go_through_the_instance_proxy"
CREATE_PROXY = PROXY + "test_create_saves_its_proxy_fields_after_trying_them"
TRANSPORTS = CONFIG + "test_create_saves_transport_blocks_as_their_set_routes_do"
HEADERS = "tests.events.test_webhook_delivery::test_events_arrive_in_order_with_headers"
LOGOUT = ACT + "test_logout_announces_status_and_logout_instance"

BEHAVIOUR: dict[str, str] = {
    # settings (/settings/set, and the same names at create)
    "settings.rejectCall": CALL,
    "settings.msgCall": CALL,
    "settings.groupsIgnore": ACT + "test_groups_ignore_leaves_group_chats_out",
    "settings.alwaysOnline": ACT + "test_always_online_sets_the_account_presence",
    "settings.readMessages": READ,
    "settings.readStatus": READ,
    "settings.syncFullHistory": HISTORY + "test_a_newly_paired_instance_gets_the_accounts_history",
    # the proxy (/proxy/set, and create's flat fields)
    "proxy.enabled": PROXIED,
    "proxy.host": PROXIED,
    "proxy.port": PROXIED,
    "proxy.protocol": PROXIED,
    "proxy.username": PROXIED,
    "proxy.password": CREATE_PROXY,
    "create.proxyHost": CREATE_PROXY,
    "create.proxyPort": CREATE_PROXY,
    "create.proxyProtocol": CREATE_PROXY,
    "create.proxyUsername": CREATE_PROXY,
    "create.proxyPassword": CREATE_PROXY,
    # the event-transport blocks (create, and /<transport>/set)
    "create.webhook": TRANSPORTS,
    "create.websocket": TRANSPORTS,
    "create.rabbitmq": SINKS + "test_rabbitmq_per_instance_and_global_queues",
    "create.nats": TRANSPORTS,
    "create.sqs": "tests.events.test_sqs::test_create_saves_an_sqs_block",
    "create.pusher": (
        "tests.events.test_pusher::test_create_saves_its_pusher_block_as_pusher_set_does"
    ),
    "transport.enabled": TRANSPORTS,
    "transport.events": TRANSPORTS,
    "webhook.enabled": CONFIG + "test_webhook_events_empty_means_all_and_disabled_clears",
    "webhook.url": CONFIG + "test_webhook_set_and_find_have_evolution_shapes",
    "webhook.headers": HEADERS,
    "webhook.byEvents": (
        "tests.events.test_webhook_delivery::test_by_events_suffix_and_subscription_filter"
    ),
    "webhook.base64": (
        "tests.messaging.test_webhook_base64::test_media_events_carry_the_downloaded_bytes"
    ),
    "webhook.events": CONFIG + "test_webhook_events_empty_means_all_and_disabled_clears",
    "webhook.secret": HEADERS,
    # the events (each is sent on the sim in that test)
    "QRCODE_UPDATED": SINKS + "test_rabbitmq_per_instance_and_global_queues",
    "MESSAGES_SET": HISTORY + "test_a_newly_paired_instance_gets_the_accounts_history",
    "MESSAGES_UPSERT": FLOW,
    "MESSAGES_EDITED": FLOW,
    "MESSAGES_UPDATE": FLOW,
    "MESSAGES_DELETE": FLOW,
    "SEND_MESSAGE": FLOW,
    "SEND_MESSAGE_UPDATE": ACT + "test_an_edit_through_the_api_is_send_message_update",
    "CONTACTS_UPSERT": FLOW,
    "CONTACTS_UPDATE": ACT + "test_contacts_update_on_a_new_name_or_picture",
    "PRESENCE_UPDATE": FLOW,
    "CHATS_SET": HISTORY + "test_a_newly_paired_instance_gets_the_accounts_history",
    "CHATS_UPSERT": HISTORY + "test_a_newly_paired_instance_gets_the_accounts_history",
    "CHATS_UPDATE": FLOW,
    "GROUPS_UPSERT": GROUPS,
    "GROUP_UPDATE": GROUPS,
    "GROUP_PARTICIPANTS_UPDATE": GROUPS,
    "CONNECTION_UPDATE": (
        "tests.api.test_instance_flow::test_create_connect_scan_open_logout_delete"
    ),
    "LABELS_EDIT": "tests.messaging.test_labels_sync::test_labels_come_with_the_session",
    "LABELS_ASSOCIATION": GROUPS,
    "CALL": CALL,
    "MESSAGING_HISTORY_SET": HISTORY + "test_a_newly_paired_instance_gets_the_accounts_history",
    "REMOVE_INSTANCE": (
        "tests.integration.test_lifecycle_regressions::"
        "test_delete_when_the_socket_is_gone_and_logout_throws"
    ),
    "LOGOUT_INSTANCE": LOGOUT,
    "STATUS_INSTANCE": LOGOUT,
    "INSTANCE_CREATE": "tests.api.test_contract_errors::"
    "test_duplicate_names_are_403_and_the_first_instance_survives",
    "INSTANCE_DELETE": "tests.api.test_contract_errors::test_logout_twice_then_delete_twice",
}

BAILEYS = {"integration": "WHATSAPP-BAILEYS"}
# key -> (path, body, words the 400 names)
REFUSED: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "settings.wavoipToken": (
        "/settings/set/x",
        {
            "rejectCall": False,
            "groupsIgnore": False,
            "alwaysOnline": False,
            "readMessages": False,
            "readStatus": False,
            "syncFullHistory": False,
            "wavoipToken": "t",
        },
        ("wavoipToken",),
    ),
    "buttons.thumbnailUrl": (
        "/message/sendButtons/x",
        {
            "number": "5511900000001",
            "thumbnailUrl": "http://127.0.0.1:9/t.png",
            "buttons": [{"type": "reply", "displayText": "ok", "id": "1"}],
        },
        ("thumbnailUrl", "not sent yet"),
    ),
    **{
        name: (
            "/webhook/set/x",
            {"webhook": {"enabled": True, "url": "http://127.0.0.1:9/h", "events": [name]}},
            (name, "never sent"),
        )
        for name in NOT_SENT
    },
}


def _keys() -> set[str]:
    create_only = {
        "proxyHost",
        "proxyPort",
        "proxyProtocol",
        "proxyUsername",
        "proxyPassword",
        "webhook",
        "websocket",
        "rabbitmq",
        "nats",
        "sqs",
        "pusher",
    }
    return (
        {f"settings.{n}" for n in SettingsBody.model_fields}
        | {f"create.{n}" for n in CreateInstance.model_fields if n in create_only}
        | {f"proxy.{n}" for n in ProxyBody.model_fields}
        | {f"transport.{n}" for n in TransportFields.model_fields}
        | {f"webhook.{n}" for n in WebhookFields.model_fields}
        | set(SUBSCRIBABLE)
        | {f"buttons.{n}" for n in SendButtons.model_fields if n == "thumbnailUrl"}
    )


def test_every_field_and_event_is_accounted_for() -> None:
    keys = _keys()
    assert not set(BEHAVIOUR) & set(REFUSED)
    assert keys == set(BEHAVIOUR) | set(REFUSED), (
        keys - set(BEHAVIOUR) - set(REFUSED),
        set(BEHAVIOUR) | set(REFUSED) - keys,
    )
    for key, ref in BEHAVIOUR.items():
        module, _, name = ref.partition("::")
        assert callable(getattr(importlib.import_module(module), name, None)), (key, ref)


async def test_what_is_refused_says_so(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("x")
    for key, (path, body, words) in REFUSED.items():
        r = await h.client.post(path, json=body)
        assert r.status_code == 400, (key, r.text)
        assert all(w in r.text for w in words), (key, r.text)
    assert (await h.client.get("/settings/find/x")).json()["wavoipToken"] == ""
    assert (await h.client.get("/webhook/find/x")).json() is None


async def test_create_refuses_any_field_of_an_integration_not_built(
    sqlite_harness: Harness,
) -> None:
    """A Chatwoot (or Typebot, OpenAI …) field with a value, even alone, is a 400 naming it;
    empty ones (`""`, `false`, `null`, as Evolution's clients send for "none") pass."""
    h = sqlite_harness
    given: list[tuple[str, Any, str]] = [
        ("chatwootAccountId", "1", "Chatwoot"),
        ("chatwootToken", "t", "Chatwoot"),
        ("chatwootUrl", "http://127.0.0.1:9", "Chatwoot"),
        ("chatwootSignMsg", True, "Chatwoot"),
        ("chatwootReopenConversation", True, "Chatwoot"),
        ("chatwootConversationPending", True, "Chatwoot"),
        ("chatwootImportContacts", True, "Chatwoot"),
        ("chatwootImportMessages", True, "Chatwoot"),
        ("chatwootDaysLimitImportMessages", 3, "Chatwoot"),
        ("chatwootNameInbox", "inbox", "Chatwoot"),
        ("chatwootAutoCreate", True, "Chatwoot"),
        ("typebotUrl", "http://127.0.0.1:9", "Typebot"),
        ("openaiApiKey", "sk", "OpenAI"),
        ("difyApiKey", "k", "Dify"),
        ("flowiseUrl", "http://127.0.0.1:9", "Flowise"),
        ("evolutionBotUrl", "http://127.0.0.1:9", "Evolution Bot"),
    ]
    for field, value, integration in given:
        r = await h.client.post(
            "/instance/create", json={"instanceName": "cw", **BAILEYS, field: value}
        )
        assert r.status_code == 400, (field, r.text)
        message = r.json()["response"]["message"]
        assert message == [
            f"{field}: {integration} is not supported yet by wagate; leave the field out "
            "(nothing would act on it)"
        ], (field, message)
    assert (await h.client.get("/instance/fetchInstances")).json() == []
    empty = {
        "chatwootAccountId": "",
        "chatwootToken": None,
        "chatwootUrl": "",
        "chatwootSignMsg": False,
        "chatwootReopenConversation": False,
        "chatwootDaysLimitImportMessages": 0,
    }
    r = await h.client.post("/instance/create", json={"instanceName": "cw", **BAILEYS, **empty})
    assert r.status_code == 201, r.text
    for path in ("/chatwoot/set/cw", "/chatwoot/find/cw", "/typebot/create/cw"):
        r = await h.client.post(path, json={"enabled": True})
        assert r.status_code == 404, (path, r.status_code)


def test_global_switches_for_events_never_sent_are_refused_at_start_up(tmp_path: Path) -> None:
    """`<prefix><EVENT>=true` for an event nothing sends would do nothing: start-up refuses it,
    naming every such variable and why; `false`, and switches of a global route that is off
    (Evolution's .env.example), are accepted."""
    hook: dict[str, Any] = {
        "webhook_global_enabled": True,
        "webhook_global_url": "http://127.0.0.1:9/g",
    }
    nats: dict[str, Any] = {"nats_enabled": True, "nats_global_enabled": True}
    for name in NOT_SENT:
        settings = make_settings(
            tmp_path,
            **hook,
            **nats,
            event_switches={
                f"WEBHOOK_EVENTS_{name}": True,
                f"NATS_EVENTS_{name}": True,
                "WEBHOOK_EVENTS_CONNECTION_UPDATE": True,
            },
        )
        with pytest.raises(SettingsError) as refused:
            global_routes(settings)
        text = str(refused.value)
        assert f"WEBHOOK_EVENTS_{name}=true ({NOT_SENT[name]})" in text, text
        assert f"NATS_EVENTS_{name}=true" in text and "never sends" in text, text
        assert "CONNECTION_UPDATE" not in text
    off = {f"WEBHOOK_EVENTS_{name}": False for name in NOT_SENT}
    routes = global_routes(make_settings(tmp_path, **hook, event_switches=off))
    assert routes.webhook_events == frozenset()
    # Evolution's .env.example: WEBHOOK_EVENTS_CHATS_DELETE=true, the global webhook off
    dormant = {f"WEBHOOK_EVENTS_{name}": True for name in NOT_SENT}
    routes = global_routes(make_settings(tmp_path, event_switches=dormant))
    assert routes.webhook_url is None
