"""A points ledger: an issuer mints points, holders transfer them or let others spend for them.

An example that the runtime is general, in the shape of a fungible-token contract:
balances, allowances, a capped total supply, and events for every movement.

Storage layout:
  "info"                      -> {"name", "symbol", "issuer", "cap"}
  "supply"                    -> total points in existence
  ["bal", address]            -> balance (absent = 0)
  ["allow", owner, spender]   -> how much spender may still move from owner (absent = 0)
"""

MAX_AMOUNT = 2**63 - 1
MAX_NAME = 64
MAX_SYMBOL = 12


class Points:
    def constructor(self, name, symbol, cap):
        require(typeof(name) == "str" and 0 < len(name) <= MAX_NAME, f"name must be 1 to {MAX_NAME} characters")
        require(typeof(symbol) == "str" and 0 < len(symbol) <= MAX_SYMBOL and symbol.isalnum(),
                f"symbol must be 1 to {MAX_SYMBOL} letters or digits")
        require(typeof(cap) == "int" and 0 < cap <= MAX_AMOUNT, "cap must be a positive int")
        storage["info"] = {"name": name, "symbol": symbol, "issuer": msg.sender, "cap": cap}
        storage["supply"] = 0

    # -- reads -----------------------------------------------------------------------------------
    def info(self):
        info = storage["info"]
        info["supply"] = storage["supply"]
        return info

    def balance_of(self, owner):
        return storage.get(["bal", owner], 0)

    def allowance(self, owner, spender):
        return storage.get(["allow", owner, spender], 0)

    def total_supply(self):
        return storage["supply"]

    # -- issuer ----------------------------------------------------------------------------------
    def mint(self, to, amount):
        authorize(msg.sender == storage["info"]["issuer"], "only the issuer can mint")
        self._check_address(to)
        self._check_amount(amount)
        supply = storage["supply"] + amount
        require(supply <= storage["info"]["cap"], f"minting {amount} would exceed the cap")
        storage["supply"] = supply
        self._credit(to, amount)
        emit("Minted", to=to, amount=amount)

    # -- holders ---------------------------------------------------------------------------------
    def burn(self, amount):
        self._check_amount(amount)
        self._debit(msg.sender, amount)
        storage["supply"] -= amount
        emit("Burned", owner=msg.sender, amount=amount)

    def transfer(self, to, amount):
        self._move(msg.sender, to, amount)
        return self.balance_of(msg.sender)

    def approve(self, spender, amount):
        self._check_address(spender)
        require(typeof(amount) == "int" and 0 <= amount <= MAX_AMOUNT, "allowance must be 0 to 2**63-1")
        key = ["allow", msg.sender, spender]
        if amount == 0:
            del storage[key]
        else:
            storage[key] = amount
        emit("Approved", owner=msg.sender, spender=spender, amount=amount)

    def transfer_from(self, owner, to, amount):
        key = ["allow", owner, msg.sender]
        allowed = storage.get(key, 0)
        authorize(allowed >= amount, f"allowance of {allowed} is less than {amount}")
        self._move(owner, to, amount)
        left = allowed - amount
        if left == 0:
            del storage[key]
        else:
            storage[key] = left

    # -- helpers ---------------------------------------------------------------------------------
    def _move(self, source, to, amount):
        self._check_address(to)
        self._check_amount(amount)
        require(to != source, "cannot transfer to the same account")
        self._debit(source, amount)
        self._credit(to, amount)
        emit("Transferred", source=source, to=to, amount=amount)

    def _credit(self, owner, amount):
        storage[["bal", owner]] = storage.get(["bal", owner], 0) + amount

    def _debit(self, owner, amount):
        key = ["bal", owner]
        balance = storage.get(key, 0)
        require(balance >= amount, f"balance of {balance} is less than {amount}")
        if balance == amount:
            del storage[key]
        else:
            storage[key] = balance - amount

    def _check_address(self, a):
        require(typeof(a) == "bytes" and len(a) == 20, "addresses are 20 bytes")

    def _check_amount(self, amount):
        require(typeof(amount) == "int" and 0 < amount <= MAX_AMOUNT, "amount must be a positive int below 2**63")
