"""Group chats and messages (im.chat.*, im.message.add) and the /_emulator/chats view."""

from __future__ import annotations

import requests


def _user_token(emu_url: str, uid: int) -> str:
    return requests.post(f"{emu_url}/_emulator/tokens", json={"user_id": uid}).json()[
        "access_token"]


def test_chat_add_members_messages_and_control_view(emu_url, emu_call):
    r = emu_call("im.chat.add", {"USERS": [3, 4, 999], "TITLE": "Deal #12", "COLOR": "PINK",
                                 "DESCRIPTION": "about the deal", "MESSAGE": "Welcome",
                                 "ENTITY_TYPE": "CRM", "ENTITY_ID": "DEAL|12"})
    chat_id = r.json()["result"]
    assert isinstance(chat_id, int)
    assert sorted(emu_call("im.chat.user.list", {"CHAT_ID": chat_id}).json()["result"]) == [
        1, 3, 4]
    msg = emu_call("im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": "[B]Hi[/B]",
                                      "ATTACH": [{"MESSAGE": "x"}], "URL_PREVIEW": "N"})
    assert isinstance(msg.json()["result"], int)
    view = requests.get(f"{emu_url}/_emulator/chats/{chat_id}").json()
    assert view["OWNER"] == 1 and view["TITLE"] == "Deal #12" and view["COLOR"] == "PINK"
    assert view["ENTITY_TYPE"] == "CRM" and view["ENTITY_ID"] == "DEAL|12"
    assert [m["MESSAGE"] for m in view["messages"]] == ["Welcome", "[B]Hi[/B]"]
    assert view["messages"][1]["URL_PREVIEW"] == "N" and view["messages"][1]["AUTHOR_ID"] == 1
    # our app-made chat is not the CRM item's system discussion chat
    assert emu_call("im.chat.get", {"ENTITY_TYPE": "CRM",
                                    "ENTITY_ID": "DEAL|12"}).json()["result"] is None
    system = requests.post(f"{emu_url}/_emulator/chats", json={
        "system": True, "ENTITY_TYPE": "CRM", "ENTITY_ID": "DEAL|12", "USERS": [3]}).json()
    assert emu_call("im.chat.get", {"ENTITY_TYPE": "CRM", "ENTITY_ID": "DEAL|12"}).json()[
        "result"] == {"ID": system["ID"]}
    # other entity types find any chat bound to the pair
    other = emu_call("im.chat.add", {"USERS": [3], "ENTITY_TYPE": "MYAPP",
                                     "ENTITY_ID": "x1"}).json()["result"]
    assert emu_call("im.chat.get", {"ENTITY_TYPE": "MYAPP", "ENTITY_ID": "x1"}).json()[
        "result"] == {"ID": other}
    listing = requests.get(f"{emu_url}/_emulator/chats").json()["chats"]
    assert {c["ID"] for c in listing} == {chat_id, system["ID"], other}
    assert requests.get(f"{emu_url}/_emulator/chats/9999").status_code == 404


def test_chat_membership_owner_and_title(emu_url, emu_call):
    chat_id = emu_call("im.chat.add", {"USERS": [3]}).json()["result"]
    assert emu_call("im.chat.user.add", {"CHAT_ID": chat_id, "USERS": [4, 7],
                                         "HIDE_HISTORY": "N"}).json()["result"] is True
    again = emu_call("im.chat.user.add", {"CHAT_ID": chat_id, "USERS": [4]})
    assert again.status_code == 400 and again.json()["error"] == "WRONG_REQUEST"
    assert sorted(emu_call("im.chat.user.list", {"CHAT_ID": chat_id}).json()["result"]) == [
        1, 3, 4, 7]
    assert emu_call("im.chat.user.delete", {"CHAT_ID": chat_id,
                                            "USER_ID": 7}).json()["result"] is True
    r = emu_call("im.chat.user.delete", {"CHAT_ID": chat_id, "USER_ID": 7})
    assert r.status_code == 400 and r.json()["error"] == "WRONG_REQUEST"
    r = emu_call("im.chat.user.delete", {"CHAT_ID": chat_id})
    assert r.status_code == 400 and r.json()["error"] == "USER_ID_EMPTY"
    # a member who is not the owner cannot remove others nor hand over ownership
    tok3 = _user_token(emu_url, 3)
    r = emu_call("im.chat.user.delete", {"CHAT_ID": chat_id, "USER_ID": 4}, token=tok3)
    assert r.status_code == 400 and r.json()["error"] == "WRONG_REQUEST"
    r = emu_call("im.chat.setOwner", {"CHAT_ID": chat_id, "USER_ID": 3}, token=tok3)
    assert r.json()["error"] == "WRONG_REQUEST"
    assert emu_call("im.chat.setOwner", {"CHAT_ID": chat_id,
                                         "USER_ID": 3}).json()["result"] is True
    assert requests.get(f"{emu_url}/_emulator/chats/{chat_id}").json()["OWNER"] == 3
    assert emu_call("im.chat.updateTitle", {"CHAT_ID": chat_id,
                                            "TITLE": "Renamed"}).json()["result"] is True
    r = emu_call("im.chat.updateTitle", {"CHAT_ID": chat_id, "TITLE": " "})
    assert r.status_code == 400 and r.json()["error"] == "TITLE_EMPTY"
    assert requests.get(f"{emu_url}/_emulator/chats/{chat_id}").json()["TITLE"] == "Renamed"
    # the owner cannot be removed
    r = emu_call("im.chat.user.delete", {"CHAT_ID": chat_id, "USER_ID": 3})
    assert r.status_code == 403 and r.json()["error"] == "ACCESS_ERROR"


def test_message_add_errors_and_private_dialogs(emu_url, emu_call):
    chat_id = emu_call("im.chat.add", {"USERS": [3]}).json()["result"]
    r = emu_call("im.message.add", {"DIALOG_ID": "chat999", "MESSAGE": "x"})
    assert r.status_code == 403 and r.json()["error"] == "ACCESS_ERROR"
    r = emu_call("im.message.add", {"DIALOG_ID": "chat0", "MESSAGE": "x"})
    assert r.status_code == 400 and r.json()["error"] == "CHAT_ID_EMPTY"
    r = emu_call("im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": "  "})
    assert r.status_code == 400 and r.json()["error"] == "MESSAGE_EMPTY"
    outsider = _user_token(emu_url, 8)
    r = emu_call("im.message.add", {"DIALOG_ID": f"chat{chat_id}", "MESSAGE": "x"},
                 token=outsider)
    assert r.status_code == 403 and r.json()["error"] == "ACCESS_ERROR"
    # api-reference/chats/chat-users/im-chat-user-list.md: members only
    r = emu_call("im.chat.user.list", {"CHAT_ID": chat_id}, token=outsider)
    assert r.status_code == 403 and r.json() == {"error": "ACCESS_ERROR",
                                                 "error_description": "Action unavailable"}
    r = emu_call("im.message.add", {"DIALOG_ID": "4", "MESSAGE": "private", "SYSTEM": "Y"})
    assert isinstance(r.json()["result"], int)
    r = emu_call("im.message.add", {"DIALOG_ID": "777", "MESSAGE": "x"})
    assert r.status_code == 400 and r.json()["error"] == "USER_NOT_FOUND"
    private = requests.get(f"{emu_url}/_emulator/chats").json()["private"]
    assert private[0]["TO_USER_ID"] == 4 and private[0]["SYSTEM"] == "Y"
    tok = requests.post(f"{emu_url}/_emulator/tokens", json={}).json()
    assert tok["access_token"]
    # scope im is required
    from emulator import Emulator, EmulatorConfig, EmulatorServer

    server = EmulatorServer(Emulator(EmulatorConfig(scopes="crm"))).start()
    try:
        t = requests.post(f"{server.url}/_emulator/tokens", json={}).json()["access_token"]
        r = requests.post(f"{server.url}/rest/im.chat.add", json={"auth": t, "USERS": [3]})
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    finally:
        server.stop()
