// A five-turn conversation through the AI SDK's default OpenAI provider (the Responses API, `store`
// on, so it sends earlier answers back as `item_reference`s), as a useChat app holds one: after each
// turn its response messages join the list. Turns alternate generateText and streamText; then a tool
// round trip. Prints one JSON line a turn; exits 1 on the first error.
// Env: BASE_URL (the gateway's /v1), API_KEY, MODEL.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";

const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY });
const model = openai(process.env.MODEL);

async function turn(messages, streamed, extra = {}) {
  const asked = { model, messages, maxRetries: 0, ...extra };
  if (!streamed) {
    const done = await generateText(asked);
    return { text: done.text, messages: done.response.messages, steps: done.steps.length };
  }
  const run = streamText(asked);
  for await (const part of run.fullStream) {
    if (part.type === "error") throw part.error;
  }
  return { text: await run.text, messages: (await run.response).messages, steps: (await run.steps).length };
}

const prompts = ["My name is Ada.", "What is my name?", "Tell me about octopuses.", "Summarise.", "Goodbye!"];
const messages = [];
try {
  for (const [index, prompt] of prompts.entries()) {
    messages.push({ role: "user", content: prompt });
    const answered = await turn(messages, index % 2 === 1);
    messages.push(...answered.messages);
    console.log(JSON.stringify({ turn: index + 1, text: answered.text, sent: messages.length }));
  }
  const weather = tool({
    description: "The weather in a city",
    inputSchema: jsonSchema({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
    execute: async ({ city }) => ({ city, sky: "clear" }),
  });
  messages.push({ role: "user", content: "And the weather in Paris?" });
  const answered = await turn(messages, true, { tools: { get_weather: weather }, stopWhen: stepCountIs(3) });
  console.log(JSON.stringify({ turn: "tool", text: answered.text, steps: answered.steps }));
} catch (error) {
  console.error(String(error?.message ?? error), JSON.stringify(error?.data ?? null));
  process.exit(1);
}
