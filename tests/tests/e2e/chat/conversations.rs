//! Conversations: history that reaches the prompt, and paging through what was said.

use serde_json::json;

use super::{Chat, question};

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_carries_its_history_and_pages() {
    let chat = Chat::start().await;
    chat.billing().await;
    chat.sim.set(|k| k.reply_text = Some("Euros [1].".into()));

    let (_, _, first) = chat
        .ask_json(&chat.alice, question("Which currency will billing use?"))
        .await;
    let conversation = first["conversation_id"].as_str().unwrap().to_owned();
    for q in ["Who changes it?", "By when is the change due?"] {
        let (status, _, body) = chat
            .ask_json(
                &chat.alice,
                json!({"question": q, "conversation_id": conversation}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["conversation_id"], conversation.as_str());
    }

    // The last prompt held the earlier turns, oldest first, before the new question.
    let prompt = chat.sim.last_chat_request();
    let roles: Vec<&str> = prompt.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "user", "assistant", "user"]
    );
    assert_eq!(prompt[1].1, "Which currency will billing use?");
    assert_eq!(prompt[2].1, "Euros [1].");
    assert_eq!(prompt[3].1, "Who changes it?");
    assert!(
        prompt[5]
            .1
            .ends_with("Question: By when is the change due?")
    );

    // One conversation, one page of it at a time.
    let (status, list) = chat.get(&chat.alice, "/api/conversations").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], conversation.as_str());
    assert_eq!(
        list["items"][0]["title"],
        "Which currency will billing use?"
    );

    let (status, page) = chat
        .get(
            &chat.alice,
            &format!("/api/conversations/{conversation}?limit=4"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["id"], conversation.as_str());
    let items = page["messages"]["items"].as_array().unwrap();
    let roles: Vec<&str> = items.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(items[2]["content"], "Who changes it?");
    let cursor = page["messages"]["next_cursor"].as_str().unwrap();
    let (_, rest) = chat
        .get(
            &chat.alice,
            &format!("/api/conversations/{conversation}?limit=4&cursor={cursor}"),
        )
        .await;
    let rest_items = rest["messages"]["items"].as_array().unwrap();
    assert_eq!(rest_items.len(), 2);
    assert_eq!(rest_items[0]["content"], "By when is the change due?");
    assert_eq!(rest_items[1]["citations"], json!([1]));
    assert!(rest["messages"]["next_cursor"].is_null());

    // Another person sees neither the list entry nor the conversation.
    let bob = chat.app.register("bob@example.com").await;
    let (_, bobs) = chat.get(&bob, "/api/conversations").await;
    assert_eq!(bobs["items"], json!([]));
    let (status, _) = chat
        .get(&bob, &format!("/api/conversations/{conversation}"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = chat.get(&chat.alice, "/api/conversations?limit=0").await;
    assert_eq!(status, 422);
}
