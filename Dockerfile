# The bank sample app. Built and run by docker-compose.yml (two instances on one PostgreSQL):
#   docker compose up --build
FROM node:20
WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
RUN npm run build

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
EXPOSE 3000
CMD ["node", "dist/apps/bank/src/main.js"]
