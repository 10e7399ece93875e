from helpers import RUN, event_body, job_body, next_message


async def test_a_run_job_and_event_reach_a_subscriber(client, subscribe):
    ws = await subscribe()
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert (await client.post("/api/jobs/", json=job_body())).status == 201
    assert (await client.post("/api/events/", json=event_body())).status == 201
    types = [(await next_message(ws))["type"] for _ in range(3)]
    assert types == ["new_run", "new_job", "new_event"]
